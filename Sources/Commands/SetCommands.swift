import RESP
import Store

/// SADD, SMEMBERS and the rest of Redis's set commands (t_set.c), over SetValue. Commands on
/// several keys lock all their shards (ctx.withKeys) so they are atomic, as in Redis.
public enum SetCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.sadd, sadd),
        CommandSpec(.srem, srem),
        CommandSpec(.smembers, smembers),
        CommandSpec(.sismember, sismember),
        CommandSpec(.smismember, smismember),
        CommandSpec(.scard, scard),
        CommandSpec(.spop, spop),
        CommandSpec(.srandmember, srandmember),
        CommandSpec(.smove, smove),
        CommandSpec(.sinter) { c, a in intersect(c, a, firstKey: 1, keyCount: a.count - 1, store: nil, cardOnly: false, limit: 0) },
        CommandSpec(.sintercard, sintercard),
        CommandSpec(.sinterstore) { c, a in intersect(c, a, firstKey: 2, keyCount: a.count - 2, store: a[1], cardOnly: false, limit: 0) },
        CommandSpec(.sunion) { c, a in unionOrDiff(c, a, firstKey: 1, store: nil, diff: false) },
        CommandSpec(.sunionstore) { c, a in unionOrDiff(c, a, firstKey: 2, store: a[1], diff: false) },
        CommandSpec(.sdiff) { c, a in unionOrDiff(c, a, firstKey: 1, store: nil, diff: true) },
        CommandSpec(.sdiffstore) { c, a in unionOrDiff(c, a, firstKey: 2, store: a[1], diff: true) },
        CommandSpec(.sscan, sscan),
    ]

    // MARK: lookup

    /// The set at k: (slot, set), (-1, nil) when missing, nil after replying WRONGTYPE.
    @inline(__always)
    static func open(_ ctx: CommandContext, _ k: KeySlot, read: Bool) -> (Int, SetValue?)? {
        ctx.openAggregate(k, .set, as: SetValue.self, read: read)
    }

    /// Stores a new set under k (replacing whatever is there, TTL dropped, as Redis's setKey).
    static func store(_ k: KeySlot, _ s: SetValue) {
        k.put(Entry.makeObject(key: k.key, hash: k.hash, kind: .set, object: s, deadline: 0),
              at: k.table.find(k.key, hash: k.hash))
    }

    /// Deletes k if it exists (an emptied set, an empty *STORE result); true when it did.
    @discardableResult
    static func deleteIfPresent(_ k: KeySlot) -> Bool {
        let s = k.table.find(k.key, hash: k.hash)
        if s < 0 { return false }
        k.delete(s)
        return true
    }

    // MARK: SADD SREM

    static func sadd(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: false) else { return }
            let s: SetValue
            if let f = found {
                s = f
            } else {
                s = SetValue(for: args[2])
                store(k, s)
            }
            var added = 0
            for i in 2..<args.count where s.add(args[i]) { added += 1 }
            if added > 0 && found != nil { k.shard.keyModified(db: k.db, key: k.key) }
            ctx.reply.integer(added)
        }
    }

    static func srem(_ ctx: CommandContext, _ args: Arguments) { ctx.removeMembers(args, .set, as: SetValue.self) }

    // MARK: SMEMBERS SISMEMBER SMISMEMBER SCARD

    static func smembers(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let s = found else {
                ctx.reply.set(0)
                return
            }
            ctx.reply.set(s.count)
            s.forEach { ctx.reply.bulk($0); return true }
        }
    }

    static func sismember(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.contains(args[2]) == true ? 1 : 0)
        }
    }

    static func smismember(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.array(args.count - 2)
            for i in 2..<args.count { ctx.reply.integer(found?.contains(args[i]) == true ? 1 : 0) }
        }
    }

    static func scard(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.count ?? 0)
        }
    }

    // MARK: SMOVE

    static func smove(_ ctx: CommandContext, _ args: Arguments) {
        let src = args[1], dst = args[2], member = args[3]
        ctx.withKeys([src, dst]) { opener in
            let from = opener.open(src)
            let to = opener.open(dst)
            guard let (_, srcFound) = open(ctx, from, read: false) else { return }
            guard let source = srcFound else {
                ctx.reply.integer(0)
                return
            }
            guard let (_, dstFound) = open(ctx, to, read: false) else { return }
            if let d = dstFound, d === source {
                ctx.reply.integer(source.contains(member) ? 1 : 0)
                return
            }
            if !source.remove(member) {
                ctx.reply.integer(0)
                return
            }
            if source.count == 0 {
                deleteIfPresent(from)
            } else {
                from.shard.keyModified(db: from.db, key: from.key)
            }
            let target: SetValue
            if let d = dstFound {
                target = d
            } else {
                target = SetValue(for: member)
                store(to, target)
            }
            if target.add(member) { to.shard.keyModified(db: to.db, key: to.key) }
            ctx.reply.integer(1)
        }
    }

    // MARK: SINTER SINTERCARD SINTERSTORE

    /// The sets named by args[first..<first+n], in argument order (nil = missing key); nil
    /// after replying WRONGTYPE. Every key is looked up (and type-checked) before any work.
    static func openAll(_ ctx: CommandContext, _ opener: KeyOpener, _ keys: [Bytes]) -> [SetValue?]? {
        var sets: [SetValue?] = []
        sets.reserveCapacity(keys.count)
        for key in keys {
            guard let (_, s) = open(ctx, opener.open(key), read: true) else { return nil }
            sets.append(s)
        }
        return sets
    }

    static func keyList(_ args: Arguments, _ first: Int, _ n: Int) -> [Bytes] {
        (first..<(first + n)).map { args[$0] }
    }

    static func sintercard(_ ctx: CommandContext, _ args: Arguments) {
        guard let numkeys = args[1].redisInteger, numkeys >= 1 else {
            ctx.reply.error("ERR numkeys should be greater than 0")
            return
        }
        if numkeys > args.count - 2 {
            ctx.reply.error("ERR Number of keys can't be greater than number of args")
            return
        }
        var limit = 0
        var j = 2 + numkeys
        while j < args.count {
            if args[j].cString.equalsIgnoringCase("limit") && j + 1 < args.count {
                guard let l = args[j + 1].redisInteger, l >= 0 else {
                    ctx.reply.error("ERR LIMIT can't be negative")
                    return
                }
                limit = l
                j += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        intersect(ctx, args, firstKey: 2, keyCount: numkeys, store: nil, cardOnly: true, limit: limit)
    }

    /// Redis's sinterGenericCommand: walks the smallest set and keeps what every other set holds.
    static func intersect(_ ctx: CommandContext, _ args: Arguments, firstKey: Int, keyCount: Int, store dst: Bytes?,
                          cardOnly: Bool, limit: Int) {
        let keys = keyList(args, firstKey, keyCount)
        ctx.withKeys(dst.map { keys + [$0] } ?? keys) { opener in
            guard let found = openAll(ctx, opener, keys) else { return }
            var sets: [SetValue] = []
            for s in found {
                guard let s = s else {
                    // An empty set makes the intersection empty.
                    if let d = dst {
                        deleteIfPresent(opener.open(d))
                        ctx.reply.integer(0)
                    } else if cardOnly {
                        ctx.reply.integer(0)
                    } else {
                        ctx.reply.set(0)
                    }
                    return
                }
                sets.append(s)
            }
            sets.sort { $0.count < $1.count }
            let smallest = sets[0]
            let result: SetValue? = dst == nil ? nil : SetValue()
            var members: [[UInt8]] = []
            var cardinality = 0
            smallest.forEach { m in
                for other in sets.dropFirst() where other !== smallest {
                    if !other.contains(m) { return true }
                }
                cardinality += 1
                if cardOnly { return limit == 0 || cardinality < limit }
                if let r = result { r.add(m) } else { members.append(Array(m)) }
                return true
            }
            if cardOnly {
                ctx.reply.integer(cardinality)
            } else if let d = dst, let r = result {
                storeResult(ctx, opener.open(d), r)
            } else {
                ctx.reply.set(members.count)
                for m in members { ctx.reply.bulk(m) }
            }
        }
    }

    /// Writes a *STORE result: a non-empty set replaces the destination, an empty one deletes
    /// it. Replies with the cardinality.
    static func storeResult(_ ctx: CommandContext, _ k: KeySlot, _ r: SetValue) {
        if r.count > 0 {
            store(k, r)
        } else {
            deleteIfPresent(k)
        }
        ctx.reply.integer(r.count)
    }

    // MARK: SUNION SDIFF and their STORE forms

    /// Redis's sunionDiffGenericCommand. The result is built in a set that starts in the integer
    /// form, so all-integer results come back ascending, as in Redis.
    static func unionOrDiff(_ ctx: CommandContext, _ args: Arguments, firstKey: Int, store dst: Bytes?, diff: Bool) {
        let keys = keyList(args, firstKey, args.count - firstKey)
        ctx.withKeys(dst.map { keys + [$0] } ?? keys) { opener in
            guard let sets = openAll(ctx, opener, keys) else { return }
            let result = SetValue()
            if !diff {
                for case let s? in sets { s.forEach { result.add($0); return true } }
            } else if let first = sets[0] {
                let others = sets.dropFirst().compactMap { $0 }
                // The same key twice (the same object) empties the difference.
                if !others.contains(where: { $0 === first }) {
                    first.forEach { m in
                        if !others.contains(where: { $0.contains(m) }) { result.add(m) }
                        return true
                    }
                }
            }
            if let d = dst {
                storeResult(ctx, opener.open(d), result)
                return
            }
            ctx.reply.set(result.count)
            result.forEach { ctx.reply.bulk($0); return true }
        }
    }

    // MARK: SSCAN

    /// SSCAN key cursor [MATCH pattern] [COUNT n].
    static func sscan(_ ctx: CommandContext, _ args: Arguments) { ctx.scanAggregate(args, .set, as: SetValue.self) }
}
