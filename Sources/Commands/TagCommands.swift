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

    static func keys(_ ctx: CommandContext, _ args: Arguments) {
        var found = BulkList()
        ctx.keyspace.forEachLiveMember(ofTag: args[1], db: ctx.client.db, now: ctx.now, locked: ctx.holdsAllShards) {
            found.append($0)
        }
        found.reply(ctx.reply)
    }

    static func count(_ ctx: CommandContext, _ args: Arguments) {
        ctx.reply.integer(ctx.keyspace.liveMemberCount(ofTag: args[1], db: ctx.client.db, now: ctx.now,
                                                       locked: ctx.holdsAllShards))
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

    /// Deletes every key carrying any of the tags, in bounded steps per shard
    /// (Keyspace.invalidate).
    static func invalidate(_ ctx: CommandContext, _ args: Arguments) {
        let tags = (1..<args.count).map { args[$0] }
        ctx.reply.integer(ctx.keyspace.invalidate(tags: tags, db: ctx.client.db, now: ctx.now, locked: ctx.holdsAllShards))
    }

    // MARK: TAG.TAGS

    /// The tags with at least one live key in the client's database, optionally filtered by a
    /// glob pattern.
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
        let names = ctx.keyspace.tagsInUse(db: ctx.client.db, matching: pattern, now: ctx.now, locked: ctx.holdsAllShards)
        ctx.reply.array(names.count)
        for n in names { ctx.reply.bulk(n) }
    }
}
