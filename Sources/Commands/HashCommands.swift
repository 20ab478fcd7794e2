import RESP
import Store

/// HSET, HGET and the rest of Redis's hash commands (t_hash.c), over HashValue.
public enum HashCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.hset) { c, a in hset(c, a, replyOK: false) },
        CommandSpec(.hsetnx, hsetnx),
        CommandSpec(.hget, hget),
        CommandSpec(.hmget, hmget),
        CommandSpec(.hmset) { c, a in hset(c, a, replyOK: true) },
        CommandSpec(.hgetall) { c, a in getAll(c, a, fields: true, values: true) },
        CommandSpec(.hdel, hdel),
        CommandSpec(.hexists, hexists),
        CommandSpec(.hlen, hlen),
        CommandSpec(.hkeys) { c, a in getAll(c, a, fields: true, values: false) },
        CommandSpec(.hvals) { c, a in getAll(c, a, fields: false, values: true) },
        CommandSpec(.hincrby, hincrby),
        CommandSpec(.hincrbyfloat, hincrbyfloat),
        CommandSpec(.hstrlen, hstrlen),
        CommandSpec(.hrandfield, hrandfield),
        CommandSpec(.hscan, hscan),
    ]

    // MARK: lookup

    /// The hash at k: `.some((slot, hash))`, `.some((-1, nil))` when the key is missing, nil after
    /// replying WRONGTYPE. `read` counts keyspace hits and misses (Redis's lookupKeyRead).
    @inline(__always)
    static func open(_ ctx: CommandContext, _ k: KeySlot, read: Bool) -> (Int, HashValue?)? {
        ctx.openAggregate(k, .hash, as: HashValue.self, read: read)
    }

    /// The hash at k, created empty when missing (hashTypeLookupWriteOrCreate); nil after
    /// replying WRONGTYPE.
    static func openOrCreate(_ ctx: CommandContext, _ k: KeySlot) -> (Int, HashValue)? {
        guard let (slot, found) = open(ctx, k, read: false) else { return nil }
        if let h = found { return (slot, h) }
        let h = HashValue()
        k.put(Entry.makeObject(key: k.key, hash: k.hash, kind: .hash, object: h, deadline: 0), at: -1)
        return (k.table.find(k.key, hash: k.hash), h)
    }

    // MARK: HSET HMSET HSETNX

    static func hset(_ ctx: CommandContext, _ args: Arguments, replyOK: Bool) {
        if args.count % 2 == 1 {
            ctx.wrongArity()
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, h) = openOrCreate(ctx, k) else { return }
            var longest = 0
            for i in 2..<args.count { longest = max(longest, args[i].count) }
            h.prepareForLength(longest)
            var created = 0
            var i = 2
            while i < args.count {
                if h.set(args[i], args[i + 1]) { created += 1 }
                i += 2
            }
            k.shard.keyModified(db: k.db, key: k.key)
            if replyOK { ctx.reply.ok() } else { ctx.reply.integer(created) }
        }
    }

    static func hsetnx(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, h) = openOrCreate(ctx, k) else { return }
            if h.contains(args[2]) {
                ctx.reply.integer(0)
                return
            }
            h.prepareForLength(max(args[2].count, args[3].count))
            h.set(args[2], args[3])
            k.shard.keyModified(db: k.db, key: k.key)
            ctx.reply.integer(1)
        }
    }

    // MARK: HGET HMGET HEXISTS HLEN HSTRLEN

    static func hget(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            if let v = found?.value(args[2]) { ctx.reply.bulk(v) } else { ctx.reply.null() }
        }
    }

    static func hmget(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.array(args.count - 2)
            for i in 2..<args.count {
                if let v = found?.value(args[i]) { ctx.reply.bulk(v) } else { ctx.reply.null() }
            }
        }
    }

    static func hexists(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.contains(args[2]) == true ? 1 : 0)
        }
    }

    static func hlen(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.count ?? 0)
        }
    }

    static func hstrlen(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.value(args[2])?.count ?? 0)
        }
    }

    // MARK: HGETALL HKEYS HVALS

    static func getAll(_ ctx: CommandContext, _ args: Arguments, fields: Bool, values: Bool) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            let n = found?.count ?? 0
            if fields && values { ctx.reply.map(n) } else { ctx.reply.array(n) }
            found?.forEach { f, v in
                if fields { ctx.reply.bulk(f) }
                if values { ctx.reply.bulk(v) }
                return true
            }
        }
    }

    // MARK: HDEL

    static func hdel(_ ctx: CommandContext, _ args: Arguments) { ctx.removeMembers(args, .hash, as: HashValue.self) }

    // MARK: HINCRBY HINCRBYFLOAT

    static func hincrby(_ ctx: CommandContext, _ args: Arguments) {
        guard let by = args[3].redisInteger else {
            ctx.notInteger()
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, h) = openOrCreate(ctx, k) else { return }
            var current = 0
            if let v = h.value(args[2]) {
                guard let n = v.redisInteger else {
                    ctx.reply.error("ERR hash value is not an integer")
                    return
                }
                current = n
            }
            let (result, overflow) = current.addingReportingOverflow(by)
            if overflow {
                ctx.reply.error("ERR increment or decrement would overflow")
                return
            }
            var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
            withUnsafeMutableBytes(of: &tmp) { raw in
                let p = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
                h.set(args[2], Bytes(start: p, count: formatDecimal(result, into: p)))
            }
            k.shard.keyModified(db: k.db, key: k.key)
            ctx.reply.integer(result)
        }
    }

    static func hincrbyfloat(_ ctx: CommandContext, _ args: Arguments) {
        guard let by = args[3].redisLongDouble else {
            ctx.notFloat()
            return
        }
        if by.isNaN || by.isInfinite {
            ctx.reply.error("ERR value is NaN or Infinity")
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, h) = openOrCreate(ctx, k) else { return }
            var current: Float80 = 0
            if let v = h.value(args[2]) {
                guard let n = v.redisLongDouble else {
                    ctx.reply.error("ERR hash value is not a float")
                    return
                }
                current = n
            }
            let result = current + by
            if result.isNaN || result.isInfinite {
                ctx.reply.error("ERR increment would produce NaN or Infinity")
                return
            }
            let text = formatLongDouble(result)
            text.withUnsafeBufferPointer { t in
                h.set(args[2], t)
                ctx.reply.bulk(t)
            }
            k.shard.keyModified(db: k.db, key: k.key)
        }
    }

    // MARK: HRANDFIELD

    static func hrandfield(_ ctx: CommandContext, _ args: Arguments) {
        if args.count == 2 {
            ctx.withKey(args[1]) { k in
                guard let (_, found) = open(ctx, k, read: true) else { return }
                guard let h = found else {
                    ctx.reply.null()
                    return
                }
                ctx.reply.bulk(h.randomPair().0)
            }
            return
        }
        guard let l = ctx.randomCount(args[2]) else { return }
        var withValues = false
        if args.count > 4 || (args.count == 4 && !args[3].equalsIgnoringCase("withvalues")) {
            ctx.syntaxError()
            return
        } else if args.count == 4 {
            withValues = true
            if l < -(Int.max / 2) || l > Int.max / 2 {
                ctx.reply.error("ERR value is out of range")
                return
            }
        }
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let h = found, l != 0 else {
                ctx.reply.array(0)
                return
            }
            randomFields(ctx, h, count: l, withValues: withValues)
        }
    }

    /// Redis's hrandfieldWithCountCommand: a negative count samples with repetition; a count not
    /// below the size returns the whole hash; otherwise distinct random fields. With values,
    /// RESP3 nests each pair in an array and RESP2 flattens them.
    static func randomFields(_ ctx: CommandContext, _ h: HashValue, count l: Int, withValues: Bool) {
        let r = ctx.reply
        let nested = withValues && r.resp3
        func emit(_ f: Bytes, _ v: Bytes) {
            if nested { r.array(2) }
            r.bulk(f)
            if withValues { r.bulk(v) }
        }
        let size = h.count
        let count = l < 0 ? -l : l
        if l < 0 || count == 1 {
            let least = withValues ? 2 * CountedReply.leastBulk + (nested ? 4 : 0) : CountedReply.leastBulk
            guard let budget = CountedReply(ctx, elements: count, bytesEach: least) else { return }
            r.array(withValues && !r.resp3 ? count * 2 : count)
            for _ in 0..<count {
                let (f, v) = h.randomPair()
                emit(f, v)
                if budget.exceeded() { return }
            }
            return
        }
        let n = min(count, size)
        r.array(withValues && !r.resp3 ? n * 2 : n)
        if count >= size {
            h.forEach { f, v in emit(f, v); return true }
            return
        }
        // Distinct picks: choose `count` indexes of the iteration order, then walk it once.
        var chosen = Array(repeating: false, count: size)
        if count * 3 > size {
            var picked = 0
            for i in 0..<size where FastRandom.int(in: 0..<(size - i)) < count - picked {
                chosen[i] = true
                picked += 1
            }
        } else {
            var picked = 0
            while picked < count {
                let i = FastRandom.int(in: 0..<size)
                if !chosen[i] { chosen[i] = true; picked += 1 }
            }
        }
        var i = 0
        h.forEach { f, v in
            if chosen[i] { emit(f, v) }
            i += 1
            return true
        }
    }

    // MARK: HSCAN

    /// HSCAN key cursor [MATCH pattern] [COUNT n] [NOVALUES].
    static func hscan(_ ctx: CommandContext, _ args: Arguments) {
        ctx.scanAggregate(args, .hash, as: HashValue.self, accepting: .noValues)
    }
}
