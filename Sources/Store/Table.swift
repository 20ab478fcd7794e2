import Glibc

/// One database's keys inside one shard: an open-addressing table of entry pointers with linear
/// probing and backward-shift deletion (no tombstones). A key's home slot is `hash & mask`; it
/// always sits in the run of occupied slots starting at its home, which is what lets SCAN walk
/// home slots in reverse-binary order and keep Redis's guarantee across resizes.
public final class Table {
    /// Each slot holds an entry pointer in its low 48 bits and 16 bits of the key's hash in the
    /// high bits (user-space pointers on x86-64 and arm64 Linux fit in 48 bits). A probe compares
    /// those 16 bits first, so it dereferences — and misses the cache on — only the entry that
    /// almost surely matches. Measured on SET -P 16: loads of non-matching entries were 30% of
    /// the handler's samples before. 0 = empty.
    @usableFromInline var slots: UnsafeMutablePointer<UInt>
    @usableFromInline var mask: Int
    public private(set) var count = 0
    /// Entries with a deadline.
    public internal(set) var volatileCount = 0
    /// Bytes malloc holds for entries and slots.
    var entryBytes = 0 { didSet { meter?.add(entryBytes &- oldValue) } }
    /// Bytes the aggregates behind this table's entries hold (each counted as of its last
    /// settle, see settle(_:)).
    var objectBytes = 0 { didSet { meter?.add(objectBytes &- oldValue) } }
    /// Where active expiry finds due keys (DeadlineIndex.swift) and the bytes it holds.
    var deadlines = DeadlineIndex()
    var deadlineBytes = 0 { didSet { meter?.add(deadlineBytes &- oldValue) } }
    /// The keys' tags; nil while no key of this table has any (untagged tables pay nothing).
    public internal(set) var tags: TagIndex? {
        didSet {
            if oldValue === tags { return }
            oldValue?.meter = nil
            tags?.meter = meter
        }
    }
    /// Where this table's byte changes are counted: its shard's meter while the table is in a
    /// shard, nil otherwise (a table dropped by FLUSHDB takes its bytes out as it leaves).
    var meter: MemoryMeter? {
        didSet {
            if oldValue === meter { return }
            // The tag index moves its own bytes when its meter changes.
            oldValue?.add(-(entryBytes + objectBytes + deadlineBytes))
            meter?.add(entryBytes + objectBytes + deadlineBytes)
            tags?.meter = meter
        }
    }

    /// Bytes malloc holds for entries, slots, aggregates and the tag index.
    public var memoryBytes: Int { entryBytes + objectBytes + deadlineBytes + (tags?.memoryBytes ?? 0) }

    // S3-FIFO state (maxmemory-policy allkeys-s3fifo, see S3FIFO.swift).
    /// Entries in the main queue (policy bit 2); maintained while `s3fifo` is on.
    var mainCount = 0
    var s3fifo = false
    /// Where the small-queue and main-queue sweeps resume (slot indexes).
    var smallHand = 0
    var mainHand = 0

    @usableFromInline static let pointerBits: UInt = (1 << 48) - 1

    /// The slot word for an entry: its pointer plus the tag from hash bits 16...31.
    @inlinable @inline(__always)
    static func word(_ e: Entry) -> UInt { UInt(bitPattern: e.raw) | (UInt(e.hash >> 16) << 48) }

    @inlinable @inline(__always)
    static func tag(_ hash: UInt32) -> UInt { UInt(hash >> 16) << 48 }

    public init(capacity: Int = 8) {
        var c = 8
        while c < capacity { c <<= 1 }
        slots = .allocate(capacity: c)
        slots.initialize(repeating: 0, count: c)
        mask = c - 1
        entryBytes = c * 8
    }

    deinit {
        clear()
        slots.deallocate()
    }

    public var capacity: Int { mask + 1 }

    /// The entry pointer at slot i, or nil when empty.
    @inlinable @inline(__always)
    func pointer(_ i: Int) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: slots[i] & Table.pointerBits)
    }

    /// The slot holding key, or -1.
    @inlinable @inline(__always)
    public func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt32) -> Int {
        var i = Int(hash) & mask
        let tag = Table.tag(hash)
        while true {
            let w = slots[i]
            if w == 0 { return -1 }
            if w & ~Table.pointerBits == tag,
               Entry(UnsafeMutableRawPointer(bitPattern: w & Table.pointerBits)!).keyEquals(key, hash: hash) {
                return i
            }
            i = (i + 1) & mask
        }
    }

    @inlinable @inline(__always)
    public func entry(at slot: Int) -> Entry { Entry(UnsafeMutableRawPointer(bitPattern: slots[slot] & Table.pointerBits)!) }

    /// Puts a new entry in (the key must not be present, so it has no tags yet: a flag copied
    /// from another entry is cleared; attach tags with addTag).
    public func insert(_ e: Entry) {
        if e.hasTags { e.hasTags = false }
        if (count + 1) * 4 > capacity * 3 { resize(capacity * 2) }
        var i = Int(e.hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = Table.word(e)
        count += 1
        if e.hasDeadline {
            volatileCount += 1
            indexDeadline(e)
        }
        entryBytes += e.allocatedSize
        adopt(e)
    }

    /// Swaps the entry at slot for e (same key), freeing the old one. The key keeps its tags
    /// only when e carries the hasTags flag (SET KEEPTTL, INCRBYFLOAT's rewrite); any other new
    /// value drops them, as it drops the TTL.
    public func replace(at slot: Int, with e: Entry) {
        let old = entry(at: slot)
        if old.hasTags {
            if !e.hasTags { dropTags(of: old) }
        } else if e.hasTags {
            e.hasTags = false
        }
        account(removing: old)
        release(old)
        slots[slot] = Table.word(e)
        if e.hasDeadline {
            volatileCount += 1
            indexDeadline(e)
        }
        entryBytes += e.allocatedSize
        adopt(e)
        if old.raw != e.raw { old.free() }
    }

    /// Starts counting what an entry brings besides its block: an aggregate's bytes, its place
    /// in the S3-FIFO main queue.
    @inline(__always) func adopt(_ e: Entry) {
        if e.kind != .string {
            let o = e.object
            o.accountedIn = self
            o.accountedBytes = o.memoryBytes
            objectBytes += o.accountedBytes
        }
        if s3fifo && e.policyBits & S3FIFO.mainBit != 0 { mainCount += 1 }
    }

    /// Stops counting an entry leaving the table (the opposite of adopt).
    @inline(__always) func release(_ e: Entry) {
        if e.kind != .string {
            let o = e.object
            objectBytes -= o.accountedBytes
            o.accountedIn = nil
            o.accountedBytes = 0
        }
        if s3fifo && e.policyBits & S3FIFO.mainBit != 0 { mainCount -= 1 }
    }

    /// Re-measures an aggregate after writes to it (Shard.unlock settles the aggregates opened
    /// for writing under the lock); an aggregate no longer in a table is skipped.
    static func settle(_ o: StoredObject) {
        guard let t = o.accountedIn else { return }
        let n = o.memoryBytes
        t.objectBytes += n - o.accountedBytes
        o.accountedBytes = n
    }

    /// Call before changing an entry in place (deadline, size) and `didUpdate` after, so the
    /// volatile count and memory figures stay true.
    @inline(__always) public func willUpdate(_ e: Entry) {
        lastUpdatedDeadline = e.deadline
        account(removing: e)
    }
    /// The deadline an entry had when willUpdate was called (didUpdate indexes only a change).
    var lastUpdatedDeadline: Int64 = 0
    @inline(__always) public func didUpdate(_ e: Entry, at slot: Int) {
        let moved = slots[slot] & Table.pointerBits != UInt(bitPattern: e.raw)
        slots[slot] = Table.word(e)
        if e.hasDeadline {
            volatileCount += 1
            // A new deadline or a moved block needs a record; an unchanged one has one.
            if moved || e.deadline != lastUpdatedDeadline { indexDeadline(e) }
        }
        entryBytes += e.allocatedSize
    }

    @inline(__always) func account(removing e: Entry) {
        if e.hasDeadline {
            volatileCount -= 1
            // No key with a deadline left: no record is of use (they would wait to go stale).
            if volatileCount == 0 && deadlines.records > 0 && !sweepingDeadlines { clearDeadlines() }
        }
        entryBytes -= e.allocatedSize
    }

    /// True while expireDue walks the index (it clears it itself when done).
    var sweepingDeadlines = false

    func clearDeadlines() {
        deadlines.removeAll()
        deadlineBytes = 0
    }

    /// Removes the entry at slot and returns it without freeing it. Its tags are dropped from
    /// the index (and its flag cleared): every way a key leaves the table — DEL, expiry, an
    /// emptied aggregate, MOVE — passes here, so the index never keeps a dead key.
    @discardableResult
    public func detach(at slot: Int) -> Entry {
        let e = entry(at: slot)
        if e.hasTags { dropTags(of: e) }
        account(removing: e)
        release(e)
        count -= 1
        // Backward-shift: pull later members of the run into the hole when their home allows.
        var hole = slot
        var j = (slot + 1) & mask
        while let p = pointer(j) {
            let home = Int(Entry(p).hash) & mask
            // Move p into the hole if its home is not in (hole, j] cyclically.
            let distHole = (j - hole) & mask
            let distHome = (j - home) & mask
            if distHome >= distHole {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = 0
        return e
    }

    /// Removes and frees the entry at slot.
    public func remove(at slot: Int) { detach(at: slot).free() }

    /// Frees every entry and the tag index.
    public func clear() {
        for i in 0...mask {
            if let p = pointer(i) {
                let e = Entry(p)
                if e.kind != .string { e.object.accountedIn = nil }
                e.free()
                slots[i] = 0
            }
        }
        count = 0
        volatileCount = 0
        mainCount = 0
        objectBytes = 0
        deadlines.removeAll()
        deadlineBytes = 0
        entryBytes = capacity * 8
        tags?.removeAll()
        tags = nil
    }

    // MARK: tags

    /// Attaches tag to the entry at slot; true when it is new to the key.
    @discardableResult
    public func addTag(_ name: UnsafeBufferPointer<UInt8>, at slot: Int) -> Bool {
        let e = entry(at: slot)
        let index: TagIndex
        if let t = tags {
            index = t
        } else {
            index = TagIndex()
            tags = index
        }
        let added = index.attach(e.key, hash: e.hash, tag: name)
        e.hasTags = true
        return added
    }

    /// Detaches tag from the entry at slot; true when the key carried it.
    @discardableResult
    public func removeTag(_ name: UnsafeBufferPointer<UInt8>, at slot: Int) -> Bool {
        let e = entry(at: slot)
        guard e.hasTags, let index = tags, index.detach(e.key, hash: e.hash, tag: name) else { return false }
        if !index.hasRecord(e.key, hash: e.hash) {
            e.hasTags = false
            if index.isEmpty { tags = nil }
        }
        return true
    }

    /// The tag names of the entry at slot.
    public func tagNames(at slot: Int) -> [[UInt8]] {
        let e = entry(at: slot)
        guard e.hasTags, let index = tags else { return [] }
        return index.tagNames(of: e.key, hash: e.hash)
    }

    /// Drops every tag of the entry at slot (its flag cleared).
    public func dropTags(at slot: Int) {
        let e = entry(at: slot)
        if e.hasTags { dropTags(of: e) }
    }

    func dropTags(of e: Entry) {
        e.hasTags = false
        guard let index = tags else { return }
        index.removeKey(e.key, hash: e.hash)
        if index.isEmpty { tags = nil }
    }

    /// Every inconsistency between the table and its tag index (tests): indexed keys must be in
    /// the table with the flag, flagged entries must be indexed, and with `now` no indexed key
    /// may be expired.
    public func tagProblems(now: Int64? = nil) -> [String] {
        var out: [String] = []
        var flagged = 0
        forEachSlot { _, e in
            if e.hasTags {
                flagged += 1
                if tags?.hasRecord(e.key, hash: e.hash) != true {
                    out.append("entry \(String(decoding: e.key, as: UTF8.self)) is flagged but not indexed")
                }
            }
            if let n = now, e.hasTags, e.deadline != 0, e.deadline <= n {
                out.append("entry \(String(decoding: e.key, as: UTF8.self)) is expired but still indexed")
            }
            return true
        }
        guard let index = tags else { return out }
        if index.isEmpty { out.append("an empty index is kept") }
        if index.keyCount != flagged { out.append("\(index.keyCount) indexed keys, \(flagged) flagged entries") }
        out += index.problems { key, hash in
            let s = find(key, hash: hash)
            return s >= 0 && entry(at: s).hasTags
        }
        return out
    }

    /// Halves the table while it is mostly empty; called between operations, never while a
    /// walk over slots is in progress.
    public func shrinkIfSparse() {
        var c = capacity
        while c > 8 && count * 8 < c { c /= 2 }
        // c * 2 can equal the capacity (count just under an eighth of it): no rehash then.
        let target = max(c * 2, 8)
        if target < capacity { resize(target) }
    }

    func resize(_ newCap: Int) {
        let old = slots
        let oldCap = capacity
        slots = .allocate(capacity: newCap)
        slots.initialize(repeating: 0, count: newCap)
        mask = newCap - 1
        for i in 0..<oldCap {
            let w = old[i]
            if w != 0 {
                var j = Int(Entry(UnsafeMutableRawPointer(bitPattern: w & Table.pointerBits)!).hash) & mask
                while slots[j] != 0 { j = (j + 1) & mask }
                slots[j] = w
            }
        }
        old.deallocate()
        entryBytes += (newCap - oldCap) * 8
    }

    /// Visits, in slot order, every live slot; body returns false to stop.
    public func forEachSlot(_ body: (Int, Entry) -> Bool) {
        for i in 0...mask {
            if let p = pointer(i) { if !body(i, Entry(p)) { return } }
        }
    }

    /// An entry at a random occupied slot, or nil when empty.
    public func randomSlot() -> Int? {
        if count == 0 { return nil }
        var i = FastRandom.int(in: 0...mask)
        while slots[i] == 0 { i = (i + 1) & mask }
        // Start of runs are favoured by linear probing; good enough for RANDOMKEY.
        return i
    }

    /// Visits every entry whose home slot is `bucket` in the current table, then returns the
    /// next cursor in reverse-binary order (0 when the walk is complete). Entries can be
    /// visited more than once across resizes, never missed, as with Redis's dictScan.
    public func scan(_ cursor: UInt64, _ body: (Entry) -> Void) -> UInt64 {
        let m = UInt64(mask)
        var v = cursor
        let bucket = Int(v & m)
        var i = bucket
        while let p = pointer(i) {
            let e = Entry(p)
            if Int(e.hash) & mask == bucket { body(e) }
            i = (i + 1) & mask
            if i == bucket { break }
        }
        // Reverse-binary increment of the masked bits (Redis's dictScan).
        v |= ~m
        v = reverseBits(v)
        v = v &+ 1
        v = reverseBits(v)
        return v
    }
}

@inline(__always)
func reverseBits(_ v: UInt64) -> UInt64 {
    var x = v
    x = ((x >> 1) & 0x5555_5555_5555_5555) | ((x & 0x5555_5555_5555_5555) << 1)
    x = ((x >> 2) & 0x3333_3333_3333_3333) | ((x & 0x3333_3333_3333_3333) << 2)
    x = ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((x & 0x0F0F_0F0F_0F0F_0F0F) << 4)
    return x.byteSwapped
}
