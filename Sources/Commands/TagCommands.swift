import Glibc
import RESP
import Store

/// TagCache's own commands: tags group keys so an application can invalidate them together.
/// A key's tags live as long as Redis would keep its TTL (see README, "Tags"); the index is per
/// table (database x shard), so commands about one tag gather across shards, one lock at a time.
public enum TagCommands {
    public static let all: [CommandSpec] = [
        CommandSpec("tag.add", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "tags",
                    summary: "Attaches tags to a key. Returns the number of tags newly attached.", since: "1.0.0",
                    complexity: "O(N) where N is the number of tags given.",
                    categories: ["keyspace", "write", "fast"], handler: add),
        CommandSpec("tag.rem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "tags",
                    summary: "Detaches tags from a key. Returns the number of tags removed.", since: "1.0.0",
                    complexity: "O(N) where N is the number of tags given.",
                    categories: ["keyspace", "write", "fast"], handler: rem),
        CommandSpec("tag.get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "tags",
                    summary: "Returns the tags of a key.", since: "1.0.0",
                    complexity: "O(N) where N is the number of tags of the key.",
                    categories: ["keyspace", "read", "fast"], handler: get),
        CommandSpec("tag.keys", arity: 2, flags: [.readonly], group: "tags",
                    summary: "Returns the keys carrying a tag.", since: "1.0.0",
                    complexity: "O(N) where N is the number of keys carrying the tag.",
                    categories: ["keyspace", "read", "slow"], handler: keys),
        CommandSpec("tag.scan", arity: -3, flags: [.readonly], group: "tags",
                    summary: "Incrementally iterates the keys carrying a tag.", since: "1.0.0",
                    complexity: "O(1) for every call. O(N) for a complete iteration, N being the number of keys carrying the tag.",
                    categories: ["keyspace", "read", "slow"], handler: scan),
        CommandSpec("tag.count", arity: 2, flags: [.readonly], group: "tags",
                    summary: "Returns the number of keys carrying a tag.", since: "1.0.0",
                    complexity: "O(1) per shard while no key of the database has a TTL, else O(N) with N the number of keys carrying the tag.",
                    categories: ["keyspace", "read", "slow"], handler: count),
        CommandSpec("tag.invalidate", arity: -2, flags: [.write], group: "tags",
                    summary: "Deletes every key carrying any of the tags. Returns the number of keys deleted.",
                    since: "1.0.0",
                    complexity: "O(N) where N is the number of keys deleted, done in bounded steps per shard.",
                    categories: ["keyspace", "write", "slow"], handler: invalidate),
        CommandSpec("tag.tags", arity: -1, flags: [.readonly], group: "tags",
                    summary: "Returns the tags in use in the database, optionally those matching a pattern.",
                    since: "1.0.0", complexity: "O(N) where N is the number of tags in the database.",
                    categories: ["keyspace", "read", "slow"], handler: tags),
    ]

    /// Keys TAG.INVALIDATE deletes per shard lock hold before letting other clients in.
    public static let invalidateBatch = 1000

    // MARK: TAG.ADD TAG.REM TAG.GET

    static func add(_ ctx: CommandContext, _ args: Arguments) {
        let n = ctx.withKey(args[1]) { k -> Int in
            let slot = k.find()
            if slot < 0 { return 0 }
            var added = 0
            for i in 2..<args.count where k.table.addTag(args[i], at: slot) { added += 1 }
            if added > 0 { k.shard.keyModified(db: k.db, key: k.key) }
            return added
        }
        ctx.reply.integer(n)
    }

    static func rem(_ ctx: CommandContext, _ args: Arguments) {
        let n = ctx.withKey(args[1]) { k -> Int in
            let slot = k.find()
            if slot < 0 { return 0 }
            var removed = 0
            for i in 2..<args.count where k.table.removeTag(args[i], at: slot) { removed += 1 }
            if removed > 0 { k.shard.keyModified(db: k.db, key: k.key) }
            return removed
        }
        ctx.reply.integer(n)
    }

    static func get(_ ctx: CommandContext, _ args: Arguments) {
        let names = ctx.withKey(args[1]) { k -> [[UInt8]] in
            let slot = k.find()
            return slot < 0 ? [] : k.tagNames(at: slot)
        }
        ctx.reply.set(names.count)
        for n in names { ctx.reply.bulk(n) }
    }

    // MARK: TAG.KEYS TAG.COUNT

    /// Calls body with every live key carrying tag in the client's database, shard by shard, each
    /// under its shard's lock. Expired keys are not shown and are removed after each shard's walk
    /// (the walk itself must not change the tag's set).
    static func forEachLiveKey(_ ctx: CommandContext, tag: Bytes, _ body: (Bytes) -> Void) {
        let db = ctx.client.db
        let now = ctx.now
        var expired: [([UInt8], UInt32)] = []
        for shard in ctx.keyspace.shards {
            ctx.lock(shard)
            if let t = shard.existingTable(db), let index = t.tags {
                let volatile = t.volatileCount > 0
                index.forEachMember(of: tag) { key, hash in
                    if volatile && isExpired(t, key, hash, now) {
                        expired.append((Array(key), hash))
                    } else {
                        body(key)
                    }
                    return true
                }
                removeExpired(shard, t, db: db, now: now, &expired)
            }
            ctx.unlock(shard)
        }
    }

    @inline(__always)
    static func isExpired(_ t: Table, _ key: Bytes, _ hash: UInt32, _ now: Int64) -> Bool {
        let s = t.find(key, hash: hash)
        if s < 0 { return true }
        let d = t.entry(at: s).deadline
        return d != 0 && d <= now
    }

    /// Expires the keys collected during a walk, through the shard's lazy-expiry path (counted
    /// in expired_keys; their tags leave the index with them).
    static func removeExpired(_ shard: Shard, _ t: Table, db: Int, now: Int64, _ keys: inout [([UInt8], UInt32)]) {
        for (k, h) in keys {
            _ = k.withUnsafeBufferPointer { shard.liveSlot(t, $0, hash: h, now: now, db: db) }
        }
        keys.removeAll(keepingCapacity: true)
    }

    static func keys(_ ctx: CommandContext, _ args: Arguments) {
        var found = BulkList()
        forEachLiveKey(ctx, tag: args[1]) { found.append($0) }
        found.reply(ctx.reply)
    }

    static func count(_ ctx: CommandContext, _ args: Arguments) {
        let tag = args[1]
        let db = ctx.client.db
        let now = ctx.now
        var n = 0
        var expired: [([UInt8], UInt32)] = []
        for shard in ctx.keyspace.shards {
            ctx.lock(shard)
            if let t = shard.existingTable(db), let index = t.tags {
                if t.volatileCount == 0 {
                    // No key of the table has a TTL, so none is expired: the set's size is exact.
                    n += index.memberCount(of: tag)
                } else {
                    index.forEachMember(of: tag) { key, hash in
                        if isExpired(t, key, hash, now) { expired.append((Array(key), hash)) } else { n += 1 }
                        return true
                    }
                    removeExpired(shard, t, db: db, now: now, &expired)
                }
            }
            ctx.unlock(shard)
        }
        ctx.reply.integer(n)
    }

    // MARK: TAG.SCAN

    /// TAG.SCAN tag cursor [MATCH pattern] [COUNT n]: SCAN's cursor and options (no TYPE) over
    /// the keys carrying the tag (Keyspace.scanTag).
    static func scan(_ ctx: CommandContext, _ args: Arguments) {
        guard let cursor = ctx.scanCursor(args[2]), let o = ScanOptions.parse(ctx, args, from: 3) else { return }
        var found = BulkList()
        let next = ctx.keyspace.scanTag(args[1], db: ctx.client.db, from: cursor, o, now: ctx.now,
                                        locked: ctx.holdsAllShards) { found.append($0) }
        ctx.replyScan(next: next, found)
    }

    // MARK: TAG.INVALIDATE

    /// Deletes every key carrying any of the tags, shard by shard. In each shard the tags are first
    /// taken away from their names (O(1) under one lock hold: the keys are now claimed by this
    /// invalidation, a later SET ... TAGS of the same name starts afresh), then their keys are
    /// deleted at most `invalidateBatch` per lock hold, freed after the lock is released.
    /// Every key that carried a tag when the command started is deleted (or was changed by
    /// another client first) by the time it replies.
    static func invalidate(_ ctx: CommandContext, _ args: Arguments) {
        let ks = ctx.keyspace
        let db = ctx.client.db
        var total = 0
        var freeLater: [Entry] = []
        freeLater.reserveCapacity(invalidateBatch)
        for shard in ks.shards {
            ctx.lock(shard)
            if shard.index == 0 { shard.stats.tagInvalidations += args.count - 1 }
            var work: [(Table, TagIndex, Int)] = []
            if let t = shard.existingTable(db), let index = t.tags {
                for i in 1..<args.count {
                    if let ticket = index.beginInvalidation(args[i]) { work.append((t, index, ticket)) }
                }
            }
            ctx.unlock(shard)
            for (t, index, ticket) in work {
                var done = false
                while !done {
                    ctx.lock(shard)
                    let step = shard.invalidateStep(t, index: index, ticket: ticket, now: ctx.now,
                                                    budget: invalidateBatch, freeLater: &freeLater)
                    ctx.unlock(shard)
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
        if !ctx.holdsAllShards { ks.trimHeapIfWorthIt(freed: total) }
        ctx.reply.integer(total)
    }

    // MARK: TAG.TAGS

    /// The tags with at least one live key in the client's database (each once, however many
    /// shards hold it), optionally filtered by a glob pattern.
    static func tags(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 2 {
            ctx.syntaxError()
            return
        }
        var pattern: Bytes?
        if args.count == 2 {
            let p = args[1]
            pattern = p.count == 1 && p[0] == 42 ? nil : p
        }
        let db = ctx.client.db
        let now = ctx.now
        var names = Set<[UInt8]>()
        var expired: [([UInt8], UInt32)] = []
        for shard in ctx.keyspace.shards {
            ctx.lock(shard)
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
                        if isExpired(t, key, hash, now) {
                            expired.append((Array(key), hash))
                            return true
                        }
                        live = true
                        return false
                    }
                    if live { names.insert(Array(name)) }
                    return true
                }
                removeExpired(shard, t, db: db, now: now, &expired)
            }
            ctx.unlock(shard)
        }
        ctx.reply.array(names.count)
        for n in names { ctx.reply.bulk(n) }
    }
}
