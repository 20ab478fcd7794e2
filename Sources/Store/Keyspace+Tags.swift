import RESP

/// Walks over a tag's keys in every shard (TAG.SCAN). The index is per table (database x
/// shard), so each walk gathers shard by shard, one lock at a time unless the caller holds them all (`locked`: EXEC). Expired keys are
/// never shown; those a walk meets are removed after the shard's walk (the walk itself must not
/// change the set it walks).
extension Keyspace {
    /// One TAG.SCAN call over the keys carrying `tag` in db, from `cursor`; `found` gets each key
    /// of the reply. The cursor is SCAN's (walkShards) over the tag's key set in each shard, so
    /// a full iteration returns every key that carries the tag for its whole duration, however
    /// the sets grow and shrink between calls; a shard where the tag has no key is passed in
    /// one step.
    public func scanTag(_ tag: Bytes, db: Int, from cursor: UInt64, _ options: ScanOptions, now: Int64, locked: Bool,
                        _ found: (Bytes) -> Void) -> UInt64 {
        var budget = ScanBudget(count: options.count)
        var expired: [([UInt8], UInt32)] = []
        return walkShards(from: cursor, &budget, locked: locked) { shard, start, budget in
            guard let t = shard.existingTable(db), let index = t.tags, index.memberCount(of: tag) > 0 else { return 0 }
            return budget.walk(from: start) { c, seen in
                let volatile = t.volatileCount > 0
                let next = index.scan(tag, cursor: c) { key, hash in
                    seen += 1
                    if !options.matches(key) { return }
                    if volatile && t.isExpired(key, hash: hash, now: now) {
                        expired.append((Array(key), hash))
                        return
                    }
                    found(key)
                }
                shard.expireCollected(t, &expired, db: db, now: now)
                return next
            }
        }
    }
}

extension Table {
    /// True when the tag index's record of a key has no live entry here: the entry is gone or
    /// past its deadline.
    @inline(__always)
    func isExpired(_ key: Bytes, hash: UInt32, now: Int64) -> Bool {
        let s = find(key, hash: hash)
        if s < 0 { return true }
        let d = entry(at: s).deadline
        return d != 0 && d <= now
    }
}
