import Synchronization

/// A slice of the keyspace with its own lock: one table per database (created on first use)
/// and the counters of what happened in it. Everything here is touched only under `lock`.
// @unchecked Sendable: every var is touched only while `mutex` is held (the wait list is set once, before use).
public final class Shard: @unchecked Sendable {
    public let index: Int
    public let mutex = ShardLock()
    @usableFromInline var tables: [Table?]
    /// Per database, where its table's slot array is published for prefetching (HomeCells).
    public let homeCells: UnsafeMutablePointer<UInt>

    public var stats = ShardStats()
    /// Clients blocked on this shard's keys (set once by the keyspace).
    public internal(set) var waitList: WaitList!
    /// The bytes this shard's tables hold (maxmemory, used_memory).
    public let meter: MemoryMeter
    /// Aggregates opened for writing under the current lock hold: re-measured at unlock, so
    /// every write to a hash, set or list is counted without each command doing it.
    @usableFromInline var touchedObjects: [StoredObject] = []

    // Access tracking for OBJECT IDLETIME / FREQ and eviction (set by Keyspace.configureEviction
    // under the lock).
    public internal(set) var accessMode: AccessMode = .clock
    var lfuLogFactor = 10
    var lfuDecayMinutes = 1
    /// xorshift state for the LFU counter's coin flips.
    var random: UInt64
    /// S3-FIFO's ghost queue: fingerprints of keys recently evicted from the small queue.
    var ghost = GhostFilter()

    init(index: Int, databases: Int, total: MemoryTotal = MemoryTotal()) {
        self.index = index
        tables = Array(repeating: nil, count: databases)
        homeCells = .allocate(capacity: databases)
        homeCells.initialize(repeating: 0, count: databases)
        meter = MemoryMeter(total: total)
        random = 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
    }

    deinit { homeCells.deallocate() }

    @inline(__always) public func lock() { mutex.lock() }
    @inline(__always) public func unlock() {
        if !touchedObjects.isEmpty { settleTouched() }
        mutex.unlock()
    }

    @inline(never) func settleTouched() {
        for o in touchedObjects { Table.settle(o) }
        touchedObjects.removeAll(keepingCapacity: true)
    }

    /// Notes an aggregate about to be written under the lock (re-measured at unlock).
    @inline(__always) public func willWrite(_ o: StoredObject) { touchedObjects.append(o) }

    /// The table of db, created when first needed.
    @inlinable @inline(__always)
    public func table(_ db: Int) -> Table {
        if let t = tables[db] { return t }
        return makeTable(db)
    }

    @usableFromInline func makeTable(_ db: Int) -> Table {
        let t = Table()
        t.s3fifo = accessMode == .s3fifo
        t.meter = meter
        tables[db] = t
        t.homeCell = homeCells + db
        return t
    }

    /// Takes db's table out of the shard (its bytes leave the meter).
    func dropTable(_ db: Int) {
        tables[db]?.meter = nil
        tables[db]?.homeCell = nil
        tables[db] = nil
    }

    /// The table of db if it exists.
    @inlinable @inline(__always)
    public func existingTable(_ db: Int) -> Table? { tables[db] }

    /// The slot of a live key, or -1. An expired key is removed on the way (lazy expiry) and
    /// counted in expired_keys, so no read ever sees it. A found key's access is recorded
    /// (LRU clock, LFU counter or S3-FIFO frequency) unless `touch` is false (OBJECT, TYPE,
    /// TTL: Redis's LOOKUP_NOTOUCH).
    @inlinable @inline(__always)
    public func liveSlot(_ t: Table, _ key: UnsafeBufferPointer<UInt8>, hash: UInt32, now: Int64, db: Int,
                         touch: Bool = true) -> Int {
        let slot = t.find(key, hash: hash)
        if slot < 0 { return -1 }
        let e = t.entry(at: slot)
        let d = e.deadline
        if d != 0 && d <= now {
            expire(t, slot, db: db)
            return -1
        }
        if touch { self.touch(e, now: now) }
        return slot
    }

    /// Removes an expired entry, counting it.
    @usableFromInline
    func expire(_ t: Table, _ slot: Int, db: Int) {
        let e = t.detach(at: slot)
        stats.expiredKeys += 1
        keyModified(db: db, key: e.key)
        e.free()
    }

    // MARK: WATCH

    /// Watched keys of this shard with the version EXEC compares and how many clients watch.
    var watched: [WatchKey: (version: UInt64, watchers: Int)] = [:]
    var watchClock: UInt64 = 1

    /// Every write calls this; it costs one branch unless a client watches a key in this shard.
    @inline(__always)
    public func keyModified(db: Int, key: UnsafeBufferPointer<UInt8>) {
        if watched.isEmpty { return }
        bump(WatchKey(db: db, key: Array(key)))
    }

    func bump(_ k: WatchKey) {
        if let w = watched[k] {
            watchClock += 1
            watched[k] = (watchClock, w.watchers)
        }
    }

    /// Starts watching a key; returns the version to compare at EXEC.
    public func watch(db: Int, key: [UInt8]) -> UInt64 {
        let k = WatchKey(db: db, key: key)
        if let w = watched[k] {
            watched[k] = (w.version, w.watchers + 1)
            return w.version
        }
        watched[k] = (0, 1)
        return 0
    }

    public func unwatch(db: Int, key: [UInt8]) {
        let k = WatchKey(db: db, key: key)
        guard let w = watched[k] else { return }
        if w.watchers <= 1 { watched[k] = nil } else { watched[k] = (w.version, w.watchers - 1) }
    }

    public func watchVersion(db: Int, key: [UInt8]) -> UInt64 {
        watched[WatchKey(db: db, key: key)]?.version ?? UInt64.max
    }

    /// Marks watched keys of db that exist (FLUSHDB/FLUSHALL/SWAPDB semantics).
    public func touchWatched(db: Int, now: Int64) {
        if watched.isEmpty { return }
        guard let t = tables[db] else { return }
        for k in watched.keys where k.db == db {
            let h = KeyHash.hash(k.key, k.key.count)
            let found = k.key.withUnsafeBufferPointer { t.find($0, hash: UInt32(truncatingIfNeeded: h)) }
            if found >= 0 { bump(k) }
        }
    }

    /// The database whose table t is, or nil once t was dropped (FLUSHDB, FLUSHALL).
    public func database(of t: Table) -> Int? {
        for db in 0..<tables.count where tables[db] === t { return db }
        return nil
    }

    /// One bounded step of TAG.INVALIDATE: deletes up to `budget` keys of the dying tag `ticket`
    /// of table t (see TagIndex.beginInvalidation). Expired keys met on the way are removed as
    /// expired and not counted, as DEL does not count them. Returns the keys deleted and whether
    /// the tag is drained; a table no longer in this shard (dropped by a flush) has nothing left
    /// to delete. After SWAPDB the keys are deleted where the table now is.
    ///
    /// Deleted entries are detached, not freed: the caller frees them after releasing the lock,
    /// which keeps the hold short and gives a client waiting for the lock the moment to take it
    /// (an unfair mutex re-taken at once would otherwise starve it).
    public func invalidateStep(_ t: Table, index: TagIndex, ticket: Int, now: Int64, budget: Int,
                               freeLater: inout [Entry]) -> (deleted: Int, done: Bool) {
        guard let db = database(of: t), t.tags === index else { return (0, true) }
        var deleted = 0
        var steps = 0
        var visits = budget * 16
        var done = false
        drain: while steps < budget {
            switch index.nextDyingMember(ticket, visits: &visits) {
            case .paused:
                break drain
            case .done:
                done = true
                break drain
            case let .member(key, hash):
                steps += 1
                let slot = t.find(key, hash: hash)
                // The index holds only flagged keys of this table; should that ever fail, unlink
                // the stray record so the drain still ends.
                if slot < 0 || !t.entry(at: slot).hasTags {
                    index.removeKey(key, hash: hash)
                    continue
                }
                let e = t.entry(at: slot)
                if e.deadline != 0 && e.deadline <= now {
                    expire(t, slot, db: db)
                    continue
                }
                keyModified(db: db, key: e.key)
                freeLater.append(t.detach(at: slot))
                deleted += 1
            }
        }
        stats.keysInvalidated += deleted
        if index.isEmpty && t.tags === index { t.tags = nil }
        if t.count == 0 { dropTable(db) } else { t.shrinkIfSparse() }
        return (deleted, done)
    }

    /// Swaps the tables of two databases (SWAPDB).
    public func swapTables(_ a: Int, _ b: Int) {
        tables.swapAt(a, b)
        for db in [a, b] {
            tables[db]?.homeCell = nil
            tables[db]?.homeCell = homeCells + db
        }
    }

    /// Drops every key of db.
    public func flush(_ db: Int, now: Int64) {
        touchWatched(db: db, now: now)
        dropTable(db)
    }

    /// Removes up to `budget` expired keys of db, found through the table's deadline index
    /// (no other key is looked at). Returns (records looked at, keys removed).
    func sweepExpired(db: Int, now: Int64, budget: Int) -> (Int, Int) {
        guard let t = tables[db], t.volatileCount > 0 || t.deadlines.records > 0 else { return (0, 0) }
        let r = t.expireDue(now: now, budget: budget) { slot in expire(t, slot, db: db) }
        if t.count == 0 { dropTable(db) } else { t.shrinkIfSparse() }
        return r
    }
}

/// Counters kept per shard (no shared cache line on the request path); INFO sums them.
public struct ShardStats: Sendable {
    public var keyspaceHits = 0
    public var keyspaceMisses = 0
    public var expiredKeys = 0
    public var evictedKeys = 0
    /// Tags TAG.INVALIDATE was asked to invalidate (counted on shard 0).
    public var tagInvalidations = 0
    /// Keys TAG.INVALIDATE deleted in this shard.
    public var keysInvalidated = 0
    public init() {}

    mutating func add(_ o: ShardStats) {
        keyspaceHits += o.keyspaceHits
        keyspaceMisses += o.keyspaceMisses
        expiredKeys += o.expiredKeys
        evictedKeys += o.evictedKeys
        tagInvalidations += o.tagInvalidations
        keysInvalidated += o.keysInvalidated
    }
}

/// A (database, key) pair named by WATCH.
struct WatchKey: Hashable {
    let db: Int
    let key: [UInt8]
}
