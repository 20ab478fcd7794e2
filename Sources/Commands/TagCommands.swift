import Glibc
import RESP
import Store

/// TagCache's own commands: tags group keys so an application can invalidate them together.
/// A key's tags live as long as Redis would keep its TTL (see README, "Tags"); the index is per
/// table (database x shard), so commands about one tag gather across shards, one lock at a time.
public enum TagCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.tagAdd, add),
        CommandSpec(.tagRem, rem),
        CommandSpec(.tagGet, get),
        CommandSpec(.tagKeys, keys),
        CommandSpec(.tagScan, scan),
        CommandSpec(.tagCount, count),
        CommandSpec(.tagInvalidate, invalidate),
        CommandSpec(.tagTags, tags),
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
        var found = TagKeyList()
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

    /// TAG.SCAN tag cursor [MATCH pattern] [COUNT n]. The cursor is SCAN's (KeyCommands.scan):
    /// `setCursor << shardBits | shard`, where setCursor is the reverse-binary cursor of the tag's
    /// key set in that shard (TagIndex.scan). A full iteration walks the tag's set in shard 0,
    /// then shard 1, ..., and returns every key that carries the tag for the whole iteration, as
    /// SCAN does for the keyspace: a set that grows or shrinks between calls is handled by the
    /// reverse-binary order, and a shard where the tag has no key is passed in one step.
    static func scan(_ ctx: CommandContext, _ args: Arguments) {
        let tag = args[1]
        guard let cursor = KeyCommands.parseCursor(args[2]) else { ctx.reply.error("ERR invalid cursor"); return }
        var count = 10
        var pattern: Bytes?
        var i = 3
        while i < args.count {
            let more = args.count - i
            if args[i].equalsIgnoringCase("count") && more >= 2 {
                guard let c = args[i + 1].redisInteger else { ctx.notInteger(); return }
                if c < 1 { ctx.syntaxError(); return }
                count = c
            } else if args[i].equalsIgnoringCase("match") && more >= 2 {
                let p = args[i + 1]
                pattern = p.count == 1 && p[0] == 42 ? nil : p
            } else {
                ctx.syntaxError()
                return
            }
            i += 2
        }

        let ks = ctx.keyspace
        let db = ctx.client.db
        let now = ctx.now
        let bits = UInt64(ks.shardBits)
        var shardIndex = Int(cursor & UInt64(ks.shardCount - 1))
        var setCursor = cursor >> bits
        let (m, overflow) = count.multipliedReportingOverflow(by: 10)
        var budget = overflow ? Int.max : m
        var seen = 0
        var found = TagKeyList()
        var expired: [([UInt8], UInt32)] = []
        var next: UInt64 = 0
        while true {
            let shard = ks.shards[shardIndex]
            ctx.lock(shard)
            if let t = shard.existingTable(db), let index = t.tags, index.memberCount(of: tag) > 0 {
                repeat {
                    let volatile = t.volatileCount > 0
                    setCursor = index.scan(tag, cursor: setCursor) { key, hash in
                        seen += 1
                        if let p = pattern, !GlobPattern.matches(pattern: p, key) { return }
                        if volatile && isExpired(t, key, hash, now) {
                            expired.append((Array(key), hash))
                            return
                        }
                        found.append(key)
                    }
                    budget -= 1
                    // Expire after the bucket's walk, never during it.
                    removeExpired(shard, t, db: db, now: now, &expired)
                } while setCursor != 0 && budget > 0 && seen < count
            } else {
                setCursor = 0
            }
            ctx.unlock(shard)
            if setCursor != 0 {
                next = setCursor << bits | UInt64(shardIndex)
                break
            }
            shardIndex += 1
            if shardIndex == ks.shardCount { next = 0; break }
            if budget <= 0 || seen >= count { next = UInt64(shardIndex); break }
        }
        ctx.reply.array(2)
        ctx.reply.bulk(string: String(next))
        found.reply(ctx.reply)
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

/// Keys gathered for a reply while shard locks are held: one flat byte buffer and the end of each
/// key, so gathering costs no allocation per key.
struct TagKeyList {
    var bytes: [UInt8] = []
    var ends: [Int] = []

    mutating func append(_ key: Bytes) {
        bytes.append(contentsOf: key)
        ends.append(bytes.count)
    }

    func reply(_ reply: ReplyWriter) {
        reply.array(ends.count)
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            for end in ends {
                reply.bulk(Bytes(rebasing: all[start..<end]))
                start = end
            }
        }
    }
}
