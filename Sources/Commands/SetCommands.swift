import RESP
import Store

/// SADD, SMEMBERS and the rest of Redis's set commands (t_set.c), over SetValue. Commands on
/// several keys lock all their shards (ctx.withKeys) so they are atomic, as in Redis.
public enum SetCommands {
    public static let all: [CommandSpec] = [
        CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Add one or more members to a set", since: "1.0.0",
                    complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                    categories: ["write", "set", "fast"], handler: sadd),
        CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Remove one or more members from a set", since: "1.0.0",
                    complexity: "O(N) where N is the number of members to be removed.",
                    categories: ["write", "set", "fast"], handler: srem),
        CommandSpec("smembers", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "set",
                    summary: "Get all the members in a set", since: "1.0.0",
                    complexity: "O(N) where N is the set cardinality.",
                    categories: ["read", "set", "slow"], handler: smembers),
        CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Determine if a given value is a member of a set", since: "1.0.0", complexity: "O(1)",
                    categories: ["read", "set", "fast"], handler: sismember),
        CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Returns the membership associated with the given elements for a set", since: "6.2.0",
                    complexity: "O(N) where N is the number of elements being checked for membership",
                    categories: ["read", "set", "fast"], handler: smismember),
        CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Get the number of members in a set", since: "1.0.0", complexity: "O(1)",
                    categories: ["read", "set", "fast"], handler: scard),
        CommandSpec("spop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: "set",
                    summary: "Remove and return one or multiple random members from a set", since: "1.0.0",
                    complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
                    categories: ["write", "set", "fast"], handler: spop),
        CommandSpec("srandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "set",
                    summary: "Get one or multiple random members from a set", since: "1.0.0",
                    complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
                    categories: ["read", "set", "slow"], handler: srandmember),
        CommandSpec("smove", arity: 4, flags: [.write, .fast], keys: (1, 2, 1), group: "set",
                    summary: "Move a member from one set to another", since: "1.0.0", complexity: "O(1)",
                    categories: ["write", "set", "fast"], handler: smove),
        CommandSpec("sinter", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set",
                    summary: "Intersect multiple sets", since: "1.0.0",
                    complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
                    categories: ["read", "set", "slow"]) { c, a in intersect(c, a, firstKey: 1, keyCount: a.count - 1, store: nil, cardOnly: false, limit: 0) },
        CommandSpec("sintercard", arity: -3, flags: [.readonly], group: "set",
                    summary: "Intersect multiple sets and return the cardinality of the result", since: "7.0.0",
                    complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
                    categories: ["read", "set", "slow"], handler: sintercard),
        CommandSpec("sinterstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: "set",
                    summary: "Intersect multiple sets and store the resulting set in a key", since: "1.0.0",
                    complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
                    categories: ["write", "set", "slow"]) { c, a in intersect(c, a, firstKey: 2, keyCount: a.count - 2, store: a[1], cardOnly: false, limit: 0) },
        CommandSpec("sunion", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set",
                    summary: "Add multiple sets", since: "1.0.0",
                    complexity: "O(N) where N is the total number of elements in all given sets.",
                    categories: ["read", "set", "slow"]) { c, a in unionOrDiff(c, a, firstKey: 1, store: nil, diff: false) },
        CommandSpec("sunionstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: "set",
                    summary: "Add multiple sets and store the resulting set in a key", since: "1.0.0",
                    complexity: "O(N) where N is the total number of elements in all given sets.",
                    categories: ["write", "set", "slow"]) { c, a in unionOrDiff(c, a, firstKey: 2, store: a[1], diff: false) },
        CommandSpec("sdiff", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set",
                    summary: "Subtract multiple sets", since: "1.0.0",
                    complexity: "O(N) where N is the total number of elements in all given sets.",
                    categories: ["read", "set", "slow"]) { c, a in unionOrDiff(c, a, firstKey: 1, store: nil, diff: true) },
        CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: "set",
                    summary: "Subtract multiple sets and store the resulting set in a key", since: "1.0.0",
                    complexity: "O(N) where N is the total number of elements in all given sets.",
                    categories: ["write", "set", "slow"]) { c, a in unionOrDiff(c, a, firstKey: 2, store: a[1], diff: true) },
        CommandSpec("sscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "set",
                    summary: "Incrementally iterate Set elements", since: "2.8.0",
                    complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
                    categories: ["read", "set", "slow"], handler: sscan),
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

    static func srem(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let s = found else {
                ctx.reply.integer(0)
                return
            }
            var deleted = 0
            for i in 2..<args.count where s.remove(args[i]) {
                deleted += 1
                if s.count == 0 { break }
            }
            k.aggregateShrank(at: slot, isEmpty: s.count == 0, changed: deleted > 0)
            ctx.reply.integer(deleted)
        }
    }

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

    static func sscan(_ ctx: CommandContext, _ args: Arguments) {
        guard let cursor = KeyCommands.parseCursor(args[2]) else {
            ctx.reply.error("ERR invalid cursor")
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let s = found else {
                HashCommands.emptyScan(ctx)
                return
            }
            guard let o = HashCommands.scanOptions(ctx, args, allowNoValues: false) else { return }
            var items: [[UInt8]] = []
            var seen = 0
            var next = cursor
            let (m, overflow) = o.count.multipliedReportingOverflow(by: 10)
            var budget = overflow ? Int.max : m
            repeat {
                next = s.scan(next) { member in
                    seen += 1
                    if let p = o.pattern, !GlobPattern.matches(pattern: p, member) { return }
                    items.append(Array(member))
                }
                budget -= 1
            } while next != 0 && budget > 0 && seen < o.count
            ctx.reply.array(2)
            HashCommands.cursorReply(ctx, next)
            ctx.reply.array(items.count)
            for it in items { ctx.reply.bulk(it) }
        }
    }
}
