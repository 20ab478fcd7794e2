import CTagCacheSys
import Glibc
import RESP

/// The tags of one table (one database inside one shard), guarded by the shard lock like the
/// table itself: tag -> keys and key -> tags.
///
/// Tags are interned per index: each tag name is one `TagRecord` (its name once, and the set of
/// its keys), and a key's record lists its tags as 8-byte pointers to those records. An untagged
/// key costs nothing here; the `hasTags` bit of its entry says whether it has a record.
///
/// A tag's keys sit in a SlotTable placed by key hash, which TAG.SCAN walks in reverse-binary
/// order like the keyspace's table: every key carrying the tag for the whole iteration is
/// returned, across resizes of that set.
///
/// TAG.INVALIDATE first takes the tag's name away (`beginInvalidation`: O(1), the tag becomes
/// "dying" and invisible, a later SET ... TAGS of that name starts a fresh tag), then drains the
/// dying tag's keys in bounded steps (`nextDyingMember`). A dying set gets no new member and never
/// resizes, and is drained from its highest slot down, so removals by other clients between steps
/// (backward shifts move members only towards lower slots inside their run) cannot hide a member
/// from the drain.
public final class TagIndex {
    /// KeyRecords by key.
    var keys = SlotTable<KeyRecord>()
    /// Live TagRecords by name.
    var names = SlotTable<TagRecord>()
    /// Tags being invalidated, by ticket, with the slot the drain has reached.
    var dying: [Int: (tag: TagRecord, position: Int)] = [:]
    var nextTicket = 1
    /// Key-tag links (dying tags included).
    public private(set) var links = 0
    /// Bytes malloc holds for the index: records, tag arrays and slot arrays.
    public private(set) var memoryBytes = 0 { didSet { meter?.add(memoryBytes &- oldValue) } }
    /// The shard meter of the table owning this index (set by the table).
    var meter: MemoryMeter? {
        didSet {
            if oldValue === meter { return }
            oldValue?.add(-memoryBytes)
            meter?.add(memoryBytes)
        }
    }

    public init() {
        memoryBytes = keys.slotBytes + names.slotBytes
    }

    deinit {
        removeAll()
        keys.deallocate()
        names.deallocate()
    }

    /// Live tags (distinct names in this table).
    public var tagCount: Int { names.count }
    /// Tagged keys.
    public var keyCount: Int { keys.count }
    /// True when nothing is indexed and no invalidation is in progress.
    public var isEmpty: Bool { keys.count == 0 && dying.isEmpty }

    /// The 32-bit hash tags are placed by.
    @inline(__always)
    static func hash(_ b: Bytes) -> UInt32 { KeyHash.slotHash(b) }

    // MARK: lookups

    func record(_ key: Bytes, hash: UInt32) -> KeyRecord? {
        let s = keys.find(key, hash: hash)
        return s < 0 ? nil : keys.occupied(s)
    }

    /// The live tag of that name.
    func tag(named name: Bytes) -> TagRecord? {
        let s = names.find(name, hash: TagIndex.hash(name))
        return s < 0 ? nil : names.occupied(s)
    }

    /// Calls body with each live tag name of the key (dying tags are already detached by an
    /// invalidation in progress and are not shown).
    public func forEachTag(of key: Bytes, hash: UInt32, _ body: (Bytes) -> Void) {
        guard let r = record(key, hash: hash) else { return }
        for i in 0..<r.tagCount {
            let t = r.tag(i)
            if !t.dying { body(t.name) }
        }
    }

    /// The live tag names of the key.
    public func tagNames(of key: Bytes, hash: UInt32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        forEachTag(of: key, hash: hash) { out.append(Array($0)) }
        return out
    }

    // MARK: changes

    /// Attaches tag to key; false when the key already carried it.
    public func attach(_ key: Bytes, hash: UInt32, tag name: Bytes) -> Bool {
        let th = TagIndex.hash(name)
        let tag: TagRecord
        let ts = names.find(name, hash: th)
        if ts >= 0 {
            tag = names.occupied(ts)
        } else {
            tag = TagRecord.make(name: name, hash: th)
            memoryBytes += tag.allocatedSize + tag.members.slotBytes
            grow(&names) { $0.insert(tag) }
        }
        let record: KeyRecord
        let ks = keys.find(key, hash: hash)
        if ks >= 0 {
            record = keys.occupied(ks)
            if ts >= 0 && record.contains(tag) { return false }
        } else {
            record = KeyRecord.make(key: key, hash: hash)
            memoryBytes += record.allocatedSize
            grow(&keys) { $0.insert(record) }
        }
        memoryBytes -= record.tagArrayBytes
        record.append(tag)
        memoryBytes += record.tagArrayBytes
        tag.withMembers { m in grow(&m) { $0.insert(record) } }
        links += 1
        return true
    }

    /// Detaches a live tag from key; false when the key did not carry it.
    public func detach(_ key: Bytes, hash: UInt32, tag name: Bytes) -> Bool {
        guard let tag = tag(named: name), let record = record(key, hash: hash), record.contains(tag) else { return false }
        memoryBytes -= record.tagArrayBytes
        record.removeTag(tag)
        memoryBytes += record.tagArrayBytes
        unlink(record, from: tag)
        if record.tagCount == 0 { freeRecord(record) }
        return true
    }

    /// Whether the key still has a record (any tag, dying ones included).
    public func hasRecord(_ key: Bytes, hash: UInt32) -> Bool { record(key, hash: hash) != nil }

    /// Drops every tag of key (the key is deleted, expired or overwritten).
    public func removeKey(_ key: Bytes, hash: UInt32) {
        guard let record = record(key, hash: hash) else { return }
        for i in 0..<record.tagCount { unlink(record, from: record.tag(i)) }
        freeRecord(record)
    }

    /// Removes record from tag's members; frees a live tag that is left without keys.
    func unlink(_ record: KeyRecord, from tag: TagRecord) {
        links -= 1
        let empty: Bool = tag.withMembers { m in
            let s = m.slot(of: record)
            if s >= 0 { m.remove(at: s) }
            // A dying set keeps its size: the drain walks its slots (see the type's comment).
            if !tag.dying && m.count > 0 { grow(&m) { $0.shrinkIfSparse() } }
            return m.count == 0
        }
        if empty && !tag.dying {
            let s = names.slot(of: tag)
            if s >= 0 { grow(&names) { $0.remove(at: s); $0.shrinkIfSparse() } }
            freeTag(tag)
        }
    }

    func freeRecord(_ record: KeyRecord) {
        let s = keys.slot(of: record)
        if s >= 0 { grow(&keys) { $0.remove(at: s); $0.shrinkIfSparse() } }
        memoryBytes -= record.allocatedSize + record.tagArrayBytes
        record.free()
    }

    func freeTag(_ tag: TagRecord) {
        memoryBytes -= tag.allocatedSize + tag.members.slotBytes
        tag.free()
    }

    /// Runs a change of a slot array and counts its size change in memoryBytes.
    @inline(__always) @discardableResult
    func grow<Record, R>(_ set: inout SlotTable<Record>, _ body: (inout SlotTable<Record>) -> R) -> R {
        let before = set.slotBytes
        let r = body(&set)
        memoryBytes += set.slotBytes - before
        return r
    }

    /// Frees everything (the table is cleared).
    public func removeAll() {
        keys.removeAll { r in
            memoryBytes -= r.allocatedSize + r.tagArrayBytes
            r.free()
        }
        names.removeAll { freeTag($0) }
        for (_, d) in dying { freeTag(d.tag) }
        dying.removeAll()
        memoryBytes -= keys.slotBytes + names.slotBytes
        keys.deallocate()
        names.deallocate()
        keys = SlotTable()
        names = SlotTable()
        memoryBytes += keys.slotBytes + names.slotBytes
        links = 0
    }

    // MARK: walks

    /// Calls body with every key record of the live tag `name` (the set must not change during
    /// the walk); body returns false to stop.
    public func forEachMember(of name: Bytes, _ body: (_ key: Bytes, _ hash: UInt32) -> Bool) {
        guard let tag = tag(named: name) else { return }
        tag.members.forEach { _, r in body(r.key, r.hash) }
    }

    /// Keys carrying the live tag `name` (expired ones included).
    public func memberCount(of name: Bytes) -> Int { tag(named: name)?.members.count ?? 0 }

    /// One step of a reverse-binary walk over the live tag's keys (see Table.scan); 0 when done
    /// or when the tag has no key here.
    public func scan(_ name: Bytes, cursor: UInt64, _ body: (_ key: Bytes, _ hash: UInt32) -> Void) -> UInt64 {
        guard let tag = tag(named: name) else { return 0 }
        return tag.members.scan(cursor) { r in body(r.key, r.hash) }
    }

    /// Calls body with each live tag name; body returns false to stop.
    public func forEachTagName(_ body: (Bytes) -> Bool) {
        names.forEach { _, t in body(t.name) }
    }

    // MARK: invalidation

    /// Takes the live tag `name` away from its name (O(1)) and returns a ticket for draining its
    /// keys with `nextDyingMember`; nil when no key carries the tag here.
    public func beginInvalidation(_ name: Bytes) -> Int? {
        let s = names.find(name, hash: TagIndex.hash(name))
        if s < 0 { return nil }
        let tag = names.occupied(s)
        grow(&names) { $0.remove(at: s); $0.shrinkIfSparse() }
        tag.dying = true
        let ticket = nextTicket
        nextTicket += 1
        dying[ticket] = (tag, tag.members.capacity - 1)
        return ticket
    }

    /// What the drain of a dying tag finds next.
    public enum DrainStep {
        /// A key still carrying the dying tag: delete it, then ask again.
        case member(key: Bytes, hash: UInt32)
        /// `visits` empty slots were passed: release the lock and come back.
        case paused
        /// No key left; the tag is freed and the ticket is spent.
        case done
    }

    /// The next key of the dying tag, passing at most `visits` empty slots. The caller must
    /// remove the key (which unlinks it) before asking again, or the same key comes back.
    public func nextDyingMember(_ ticket: Int, visits: inout Int) -> DrainStep {
        guard var d = dying[ticket] else { return .done }
        let members = d.tag.members
        if members.count > 0 {
            while d.position >= 0 {
                if let r = members.record(at: d.position) {
                    dying[ticket] = d
                    return .member(key: r.key, hash: r.hash)
                }
                d.position -= 1
                visits -= 1
                if visits <= 0 {
                    dying[ticket] = d
                    return .paused
                }
            }
        }
        dying[ticket] = nil
        freeTag(d.tag)
        return .done
    }

    // MARK: checks

    /// Walks the whole index and returns every inconsistency found (tests): each record's tags
    /// list it as a member and vice versa, link and memory figures add up, names map holds only
    /// live non-empty tags. `entry` tells whether the table holds a flagged entry for a key.
    public func problems(entryHasTags: (Bytes, UInt32) -> Bool) -> [String] {
        var out: [String] = []
        var linkTotal = 0
        var bytes = keys.slotBytes + names.slotBytes
        var tagsSeen: [UnsafeMutableRawPointer: Int] = [:]
        keys.forEach { _, r in
            let name = String(decoding: r.key, as: UTF8.self)
            bytes += r.allocatedSize + r.tagArrayBytes
            if r.tagCount == 0 { out.append("key \(name) has a record without tags") }
            if !entryHasTags(r.key, r.hash) { out.append("key \(name) is indexed but has no flagged entry") }
            if keys.find(r.key, hash: r.hash) < 0 { out.append("key \(name) not findable") }
            for i in 0..<r.tagCount {
                let t = r.tag(i)
                linkTotal += 1
                tagsSeen[t.raw, default: 0] += 1
                if t.members.slot(of: r) < 0 { out.append("key \(name) missing from its tag \(String(decoding: t.name, as: UTF8.self))") }
                for j in 0..<i where r.tag(j).raw == t.raw { out.append("key \(name) lists a tag twice") }
            }
            return true
        }
        if linkTotal != links { out.append("links \(links) but \(linkTotal) counted") }
        var allTags: [TagRecord] = []
        names.forEach { _, t in allTags.append(t); return true }
        for t in allTags {
            let n = String(decoding: t.name, as: UTF8.self)
            if t.dying { out.append("tag \(n) is dying but named") }
            if t.members.count == 0 { out.append("tag \(n) is live without keys") }
            if names.find(t.name, hash: TagIndex.hash(t.name)) < 0 { out.append("tag \(n) not findable") }
        }
        for (_, d) in dying { allTags.append(d.tag) }
        for t in allTags {
            bytes += t.allocatedSize + t.members.slotBytes
            if t.members.count != tagsSeen[t.raw, default: 0] {
                out.append("tag \(String(decoding: t.name, as: UTF8.self)) has \(t.members.count) members, \(tagsSeen[t.raw, default: 0]) keys list it")
            }
        }
        if bytes != memoryBytes { out.append("memoryBytes \(memoryBytes) but \(bytes) counted") }
        return out
    }
}

/// A tagged key's record, one malloc block:
///
///     0  hash      UInt32  the key's hash as its entry keeps it
///     4  keyLen    UInt32
///     8  tagCount  UInt32
///     12 tagCap    UInt32  2 while the tags fit inline
///     16 tags      2 x UInt  up to two TagRecord pointers inline, else a pointer to a malloc'd
///                          array of them (at 16)
///     32 key bytes
///
/// Two inline tags cost nothing for keys up to 16 bytes (a 48-byte malloc chunk either way) and
/// save the array's chunk for the common one- and two-tag keys (measured: 151 -> 103 bytes per
/// key with two tags).
struct KeyRecord: LengthPrefixedRecord {
    let raw: UnsafeMutableRawPointer
    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    static let keyOffset = 32
    static let inlineTags = 2

    static func make(key: Bytes, hash: UInt32) -> KeyRecord {
        let p = allocate(key: key, hash: hash)
        p.storeBytes(of: UInt32(0), toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: UInt32(inlineTags), toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: UInt(0), toByteOffset: 16, as: UInt.self)
        p.storeBytes(of: UInt(0), toByteOffset: 24, as: UInt.self)
        return KeyRecord(p)
    }

    var tagCount: Int {
        get { Int(raw.load(fromByteOffset: 8, as: UInt32.self)) }
        nonmutating set { raw.storeBytes(of: UInt32(truncatingIfNeeded: newValue), toByteOffset: 8, as: UInt32.self) }
    }
    var tagCapacity: Int {
        get { Int(raw.load(fromByteOffset: 12, as: UInt32.self)) }
        nonmutating set { raw.storeBytes(of: UInt32(truncatingIfNeeded: newValue), toByteOffset: 12, as: UInt32.self) }
    }
    /// Inline tag word i (0 or 1).
    @inline(__always)
    func word(_ i: Int) -> UInt { raw.load(fromByteOffset: 16 + 8 * i, as: UInt.self) }
    @inline(__always)
    func setWord(_ i: Int, _ w: UInt) { raw.storeBytes(of: w, toByteOffset: 16 + 8 * i, as: UInt.self) }

    /// The out-of-line tag array, when there is one.
    var tagArray: UnsafeMutablePointer<UInt>? {
        tagCapacity > KeyRecord.inlineTags ? UnsafeMutablePointer<UInt>(bitPattern: word(0)) : nil
    }

    func tag(_ i: Int) -> TagRecord {
        let w = tagArray.map { $0[i] } ?? word(i)
        return TagRecord(UnsafeMutableRawPointer(bitPattern: w)!)
    }

    func contains(_ t: TagRecord) -> Bool {
        for i in 0..<tagCount where tag(i).raw == t.raw { return true }
        return false
    }

    func append(_ t: TagRecord) {
        let n = tagCount
        let w = UInt(bitPattern: t.raw)
        if let a = tagArray {
            if n == tagCapacity {
                let b = UnsafeMutablePointer<UInt>.allocate(capacity: n * 2)
                b.update(from: a, count: n)
                a.deallocate()
                setWord(0, UInt(bitPattern: b))
                tagCapacity = n * 2
            }
            tagArray![n] = w
        } else if n < KeyRecord.inlineTags {
            setWord(n, w)
        } else {
            let b = UnsafeMutablePointer<UInt>.allocate(capacity: 4)
            b[0] = word(0)
            b[1] = word(1)
            b[2] = w
            setWord(0, UInt(bitPattern: b))
            setWord(1, 0)
            tagCapacity = 4
        }
        tagCount = n + 1
    }

    /// Removes t from the list (order not kept); goes back inline when two tags are left.
    func removeTag(_ t: TagRecord) {
        let n = tagCount
        let w = UInt(bitPattern: t.raw)
        guard let a = tagArray else {
            for i in 0..<n where word(i) == w {
                setWord(i, word(n - 1))
                setWord(n - 1, 0)
                tagCount = n - 1
                return
            }
            return
        }
        for i in 0..<n where a[i] == w {
            a[i] = a[n - 1]
            tagCount = n - 1
            break
        }
        if tagCount <= KeyRecord.inlineTags {
            let (x, y) = (tagCount > 0 ? a[0] : 0, tagCount > 1 ? a[1] : 0)
            a.deallocate()
            setWord(0, x)
            setWord(1, y)
            tagCapacity = KeyRecord.inlineTags
        }
    }

    /// Bytes malloc holds for this record.
    var allocatedSize: Int { Int(tc_malloc_usable(raw)) + 8 }
    /// Bytes malloc holds for the out-of-line tag array (0 when inline).
    var tagArrayBytes: Int { tagArray.map { Int(tc_malloc_usable(UnsafeMutableRawPointer($0))) + 8 } ?? 0 }

    func free() {
        tagArray?.deallocate()
        Glibc.free(raw)
    }
}

/// One interned tag, one malloc block:
///
///     0  hash      UInt32  the name's hash
///     4  nameLen   UInt32
///     8  members   SlotTable<KeyRecord> (24 bytes): the KeyRecords carrying the tag
///     32 dying     UInt32  1 while an invalidation drains it
///     40 name bytes
struct TagRecord: LengthPrefixedRecord {
    let raw: UnsafeMutableRawPointer
    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    static let membersOffset = 8
    static let dyingOffset = membersOffset + MemoryLayout<SlotTable<KeyRecord>>.size
    static let keyOffset = dyingOffset + 8

    static func make(name: Bytes, hash: UInt32) -> TagRecord {
        let p = allocate(key: name, hash: hash)
        (p + membersOffset).bindMemory(to: SlotTable<KeyRecord>.self, capacity: 1).initialize(to: SlotTable())
        p.storeBytes(of: UInt32(0), toByteOffset: dyingOffset, as: UInt32.self)
        return TagRecord(p)
    }

    var name: Bytes { key }
    var dying: Bool {
        get { raw.load(fromByteOffset: TagRecord.dyingOffset, as: UInt32.self) != 0 }
        nonmutating set { raw.storeBytes(of: UInt32(newValue ? 1 : 0), toByteOffset: TagRecord.dyingOffset, as: UInt32.self) }
    }
    var members: SlotTable<KeyRecord> {
        (raw + TagRecord.membersOffset).assumingMemoryBound(to: SlotTable<KeyRecord>.self).pointee
    }

    /// Changes the member set in place.
    @inline(__always)
    func withMembers<R>(_ body: (inout SlotTable<KeyRecord>) -> R) -> R {
        body(&(raw + TagRecord.membersOffset).assumingMemoryBound(to: SlotTable<KeyRecord>.self).pointee)
    }

    var allocatedSize: Int { Int(tc_malloc_usable(raw)) + 8 }

    func free() {
        members.deallocate()
        Glibc.free(raw)
    }
}
