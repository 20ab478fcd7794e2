import RESP

/// Walks over every shard of a database (KEYS, RANDOMKEY, DBSIZE, FLUSHDB, EXEC's WATCH check),
/// one shard lock at a time unless the caller holds them all (`locked`: EXEC, FLUSHALL).
extension Keyspace {
    /// Keys in db, expired ones not yet removed included (Redis's dictSize).
    public func keyCount(db: Int, locked: Bool = false) -> Int {
        var n = 0
        for s in shards {
            if !locked { s.lock() }
            n += s.existingTable(db)?.count ?? 0
            if !locked { s.unlock() }
        }
        return n
    }

    /// KEYS: calls body with every live key of db matching pattern. Each shard's keys are a
    /// consistent view, the whole is not a snapshot across shards (as it would be in
    /// single-threaded Redis). Expired keys are skipped, not removed (Redis's keyIsExpired).
    public func forEachLiveKey(db: Int, matching pattern: Bytes, now: Int64, locked: Bool, _ body: (Bytes) -> Void) {
        for shard in shards {
            if !locked { shard.lock() }
            if let t = shard.existingTable(db), t.count > 0 {
                t.forEachSlot { _, e in
                    let d = e.deadline
                    if (d == 0 || d > now) && GlobPattern.matches(pattern: pattern, e.key) { body(e.key) }
                    return true
                }
            }
            if !locked { shard.unlock() }
        }
    }

    /// RANDOMKEY: a shard picked with weight its key count, then a random entry in it; nil when
    /// db is empty. Expired entries met on the way are removed and the pick retried, as Redis's
    /// dbRandomKey does.
    public func randomKey(db: Int, now: Int64, locked: Bool) -> [UInt8]? {
        var counts = [Int](repeating: 0, count: shardCount)
        while true {
            var total = 0
            for (i, shard) in shards.enumerated() {
                if !locked { shard.lock() }
                counts[i] = shard.existingTable(db)?.count ?? 0
                if !locked { shard.unlock() }
                total += counts[i]
            }
            if total == 0 { return nil }
            var r = FastRandom.int(in: 0..<total)
            var index = 0
            while r >= counts[index] {
                r -= counts[index]
                index += 1
            }
            let shard = shards[index]
            var key: [UInt8]?
            if !locked { shard.lock() }
            if let t = shard.existingTable(db) {
                // A few picks inside the shard before counting again.
                for _ in 0..<8 {
                    guard let s = t.randomSlot() else { break }
                    let e = t.entry(at: s)
                    let d = e.deadline
                    if d == 0 || d > now {
                        key = Array(e.key)
                        break
                    }
                    _ = shard.liveSlot(t, e.key, hash: e.hash, now: now, db: db)
                }
            }
            if !locked { shard.unlock() }
            if let k = key { return k }
        }
    }

    /// FLUSHDB (db) or FLUSHALL (nil): drops the keys and returns how many there were. The
    /// tables are unhooked under the locks and their entries freed after the locks are
    /// released (unless the caller holds them), so other clients wait only for the unhooking.
    public func flushCounting(db: Int?, locked: Bool) -> Int {
        var dropped: [Table] = []
        if !locked { lockAll() }
        for shard in shards {
            for d in db.map({ $0..<($0 + 1) }) ?? 0..<databases {
                if let t = shard.existingTable(d) { dropped.append(t) }
            }
        }
        if let d = db { flush(db: d, locked: true) } else { flushAll(locked: true) }
        if !locked { unlockAll() }
        return dropped.reduce(0) { $0 + $1.count }
    }

    /// EXEC's check of one watched key: written since WATCH (its version moved), or present but
    /// logically expired. The caller holds the key's shard lock.
    public func watchedKeyChanged(db: Int, key: [UInt8], version: UInt64, now: Int64) -> Bool {
        let h = key.withUnsafeBufferPointer { hash($0) }
        let shard = shards[shardIndex(h)]
        if shard.watchVersion(db: db, key: key) != version { return true }
        guard let t = shard.existingTable(db) else { return false }
        let slot = key.withUnsafeBufferPointer { t.find($0, hash: UInt32(truncatingIfNeeded: h)) }
        if slot < 0 { return false }
        let d = t.entry(at: slot).deadline
        return d != 0 && d <= now
    }
}

/// Where a walk over every key of every database stands (Keyspace.walkAllKeys).
public struct KeyWalkPosition: Sendable {
    public var shard = 0
    public var db = 0
    public var cursor: UInt64 = 0
    public init() {}
}

extension Keyspace {
    /// One bounded step of a walk over every key of every database, for statistics passes run
    /// a little at a time (the per-prefix key counts): up to `buckets` buckets of one shard's
    /// table, under that shard's lock. `position` moves on; the walk is over once
    /// `position.shard == shardCount`. Returns the number of keys visited. Keys that exist for
    /// the whole walk are visited at least once, across resizes, as SCAN's are.
    public func walkAllKeys(_ position: inout KeyWalkPosition, buckets: Int, _ body: (Bytes) -> Void) -> Int {
        guard position.shard < shardCount else { return 0 }
        var visited = 0
        let s = shards[position.shard]
        s.lock()
        if let t = s.existingTable(position.db), t.count > 0 {
            var walked = 0
            repeat {
                position.cursor = t.scan(position.cursor) { e in
                    visited += 1
                    body(e.key)
                }
                walked += 1
            } while position.cursor != 0 && walked < buckets
        } else {
            position.cursor = 0
        }
        s.unlock()
        if position.cursor == 0 {
            position.db += 1
            if position.db >= databases {
                position.db = 0
                position.shard += 1
            }
        }
        return visited
    }
}
