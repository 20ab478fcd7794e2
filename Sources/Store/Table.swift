import CTagCacheSys
import Glibc

/// One database's keys inside one shard: a SlotTable of entry pointers (linear probing,
/// backward-shift deletion, a key always in the run of occupied slots from its home slot, which
/// is what SCAN's guarantee across resizes rests on), with what the shard counts about them:
/// volatile keys, bytes, the deadline index, the tag index and S3-FIFO's queues.
public final class Table {
    @usableFromInline var slots: SlotTable<Entry>
    /// Keys.
    @inlinable public var count: Int { slots.count }
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

    /// Where this table publishes its slot array for prefetching (its shard's cell for its
    /// database), nil outside a shard; leaving a cell empties it.
    var homeCell: UnsafeMutablePointer<UInt>? {
        didSet {
            if oldValue == homeCell { return }
            if let old = oldValue { tc_home_cell_store(old, 0) }
            publishHome()
        }
    }

    /// Publishes the slot array's address and size to homeCell (after every resize).
    func publishHome() {
        guard let c = homeCell else { return }
        tc_home_cell_store(c, UInt(bitPattern: slots.words) | UInt(slots.mask.nonzeroBitCount) << 48)
    }

    public init(capacity: Int = 8) {
        slots = SlotTable(capacity: capacity)
        entryBytes = slots.slotBytes
    }

    deinit {
        clear()
        slots.deallocate()
    }

    public var capacity: Int { slots.capacity }

    /// The slot holding key, or -1.
    @inlinable @inline(__always)
    public func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt32) -> Int { slots.find(key, hash: hash) }

    @inlinable @inline(__always)
    public func entry(at slot: Int) -> Entry { slots.occupied(slot) }

    /// Runs a change of the slot array and counts its size change.
    @inline(__always) @discardableResult
    func resizing<R>(_ body: (inout SlotTable<Entry>) -> R) -> R {
        let before = slots.slotBytes
        let r = body(&slots)
        if slots.slotBytes != before {
            entryBytes += slots.slotBytes - before
            publishHome()
        }
        return r
    }

    /// Puts a new entry in (the key must not be present, so it has no tags yet: a flag copied
    /// from another entry is cleared; attach tags with addTag).
    public func insert(_ e: Entry) {
        if e.hasTags { e.hasTags = false }
        resizing { $0.insert(e) }
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
        slots.replace(at: slot, with: e)
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
        let moved = slots.occupied(slot).raw != e.raw
        slots.replace(at: slot, with: e)
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
        slots.remove(at: slot)
        return e
    }

    /// Removes and frees the entry at slot.
    public func remove(at slot: Int) { detach(at: slot).free() }

    /// Frees every entry and the tag index.
    public func clear() {
        slots.removeAll { e in
            if e.kind != .string { e.object.accountedIn = nil }
            e.free()
        }
        volatileCount = 0
        mainCount = 0
        objectBytes = 0
        deadlines.removeAll()
        deadlineBytes = 0
        entryBytes = slots.slotBytes
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

    /// Shrinks the slot array once it is under 1/8 full; called between operations, never
    /// while a walk over slots is in progress.
    public func shrinkIfSparse() { resizing { $0.shrinkIfSparse() } }

    /// Visits, in slot order, every live slot; body returns false to stop.
    public func forEachSlot(_ body: (Int, Entry) -> Bool) { slots.forEach(body) }

    /// A random occupied slot, or nil when empty.
    public func randomSlot() -> Int? {
        let s = slots.randomSlot()
        return s < 0 ? nil : s
    }

    /// Visits every entry whose home slot is the cursor's bucket in the current table, then returns the
    /// next cursor in reverse-binary order (0 when the walk is complete). Entries can be
    /// visited more than once across resizes, never missed, as with Redis's dictScan.
    public func scan(_ cursor: UInt64, _ body: (Entry) -> Void) -> UInt64 { slots.scan(cursor, body) }
}

extension Entry: SlotRecord {}
