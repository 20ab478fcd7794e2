import RESP

/// Walks over a tag's keys in every shard (TAG.KEYS, TAG.COUNT, TAG.SCAN, TAG.TAGS,
/// TAG.INVALIDATE). The index is per table (database x shard), so each walk gathers shard by
/// shard, one lock at a time unless the caller holds them all (`locked`: EXEC). Expired keys are
/// never shown; those a walk meets are removed after the shard's walk (the walk itself must not
/// change the set it walks).
extension Keyspace {
    /// Keys TAG.INVALIDATE deletes per shard lock hold before letting other clients in.
    public static let invalidationBatch = 1000

    /// Calls body with every live key carrying `tag` in db.
    public func forEachLiveMember(ofTag tag: Bytes, db: Int, now: Int64, locked: Bool, _ body: (Bytes) -> Void) {
        var expired: [([UInt8], UInt32)] = []
        for shard in shards {
            if !locked { shard.lock() }
            if let t = shard.existingTable(db), let index = t.tags {
                let volatile = t.volatileCount > 0
                index.forEachMember(of: tag) { key, hash in
                    if volatile && t.isExpired(key, hash: hash, now: now) {
                        expired.append((Array(key), hash))
                    } else {
                        body(key)
                    }
                    return true
                }
                shard.expireCollected(t, &expired, db: db, now: now)
            }
            if !locked { shard.unlock() }
        }
    }

    /// The number of live keys carrying `tag` in db: O(1) per shard while no key of the shard's
    /// table has a TTL, else a walk of the tag's keys there.
    public func liveMemberCount(ofTag tag: Bytes, db: Int, now: Int64, locked: Bool) -> Int {
        var n = 0
        var expired: [([UInt8], UInt32)] = []
        for shard in shards {
            if !locked { shard.lock() }
            if let t = shard.existingTable(db), let index = t.tags {
                if t.volatileCount == 0 {
                    // No key of the table has a TTL, so none is expired: the set's size is exact.
                    n += index.memberCount(of: tag)
                } else {
                    index.forEachMember(of: tag) { key, hash in
                        if t.isExpired(key, hash: hash, now: now) { expired.append((Array(key), hash)) } else { n += 1 }
                        return true
                    }
                    shard.expireCollected(t, &expired, db: db, now: now)
                }
            }
            if !locked { shard.unlock() }
        }
        return n
    }

    /// The tags with at least one live key in db (each once, however many shards hold it),
    /// optionally only those matching a glob pattern.
    public func tagsInUse(db: Int, matching pattern: Bytes?, now: Int64, locked: Bool) -> Set<[UInt8]> {
        var names = Set<[UInt8]>()
        var expired: [([UInt8], UInt32)] = []
        for shard in shards {
            if !locked { shard.lock() }
            if let t = shard.existingTable(db), let index = t.tags {
                let volatile = t.volatileCount > 0
                index.forEachTagName { name in
                    if let p = pattern, !GlobPattern.matches(pattern: p, name) { return true }
                    if !volatile {
                        names.insert(Array(name))
                        return true
                    }
                    // In use = one live key; expired ones met on the way are removed after.
                    var live = false
                    index.forEachMember(of: name) { key, hash in
                        if t.isExpired(key, hash: hash, now: now) {
                            expired.append((Array(key), hash))
                            return true
                        }
                        live = true
                        return false
                    }
                    if live { names.insert(Array(name)) }
                    return true
                }
                shard.expireCollected(t, &expired, db: db, now: now)
            }
            if !locked { shard.unlock() }
        }
        return names
    }

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

    /// TAG.INVALIDATE: deletes every key of db carrying any of the tags, shard by shard, and
    /// returns how many. In each shard the tags are first taken away from their names (O(1)
    /// under one lock hold: the keys are now claimed by this invalidation, a later SET ... TAGS
    /// of the same name starts afresh), then their keys are deleted at most
    /// `invalidationBatch` per lock hold, freed after the lock is released. Every key that
    /// carried a tag when the call started is deleted (or was changed by another client first)
    /// by the time it returns.
    public func invalidate(tags: [Bytes], db: Int, now: Int64, locked: Bool) -> Int {
        var total = 0
        var freeLater: [Entry] = []
        freeLater.reserveCapacity(Keyspace.invalidationBatch)
        for shard in shards {
            if !locked { shard.lock() }
            if shard.index == 0 { shard.stats.tagInvalidations += tags.count }
            var work: [(Table, TagIndex, Int)] = []
            if let t = shard.existingTable(db), let index = t.tags {
                for name in tags {
                    if let ticket = index.beginInvalidation(name) { work.append((t, index, ticket)) }
                }
            }
            if !locked { shard.unlock() }
            for (t, index, ticket) in work {
                var done = false
                while !done {
                    if !locked { shard.lock() }
                    let step = shard.invalidateStep(t, index: index, ticket: ticket, now: now,
                                                    budget: Keyspace.invalidationBatch, freeLater: &freeLater)
                    if !locked { shard.unlock() }
                    for e in freeLater { e.free() }
                    freeLater.removeAll(keepingCapacity: true)
                    total += step.deleted
                    done = step.done
                }
            }
        }
        // glibc keeps freed chunks mapped: a large invalidation ends with a heap trim so RSS
        // follows used_memory down. One trim at the end, outside every shard lock (never under
        // EXEC's): malloc_trim walks the whole heap, so trimming every 20,000 frees on the way
        // cost 1-5 s more for 1,000,000 keys and did not lower a concurrent GET's worst latency.
        if !locked { trimHeapIfWorthIt(freed: total) }
        return total
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
