import Glibc
import RESP
import Store

/// GET, SET and the rest of Redis's string commands (t_string.c).
public enum StringCommands {

    public static let all: [CommandSpec] = [
        CommandSpec(.`get`, get),
        CommandSpec(.`set`, set),
        CommandSpec(.setnx, setnx),
        CommandSpec(.setex, { c, a in setex(c, a, unitMs: 1000) }),
        CommandSpec(.psetex, { c, a in setex(c, a, unitMs: 1) }),
        CommandSpec(.getset, getset),
        CommandSpec(.getdel, getdel),
        CommandSpec(.getex, getex),
        CommandSpec(.mget, mget),
        CommandSpec(.mset, { c, a in mset(c, a, onlyIfNoneExist: false) }),
        CommandSpec(.msetnx, { c, a in mset(c, a, onlyIfNoneExist: true) }),
        CommandSpec(.append, append),
        CommandSpec(.strlen, strlen),
        CommandSpec(.incr, { c, a in incrBy(c, a[1], 1) }),
        CommandSpec(.decr, { c, a in incrBy(c, a[1], -1) }),
        CommandSpec(.incrby, incrby),
        CommandSpec(.decrby, decrby),
        CommandSpec(.incrbyfloat, incrbyfloat),
        CommandSpec(.getrange, getrange),
        CommandSpec(.substr, getrange),
        CommandSpec(.setrange, setrange),
    ]

    // MARK: GET family

    /// Replies with the string at slot (WRONGTYPE for other kinds). Returns false on WRONGTYPE.
    @inline(__always)
    static func replyString(_ ctx: CommandContext, _ k: KeySlot, _ slot: Int) -> Bool {
        if slot < 0 {
            ctx.reply.null()
            return true
        }
        let e = k.entry(slot)
        if e.kind != .string {
            ctx.wrongType()
            return false
        }
        ctx.reply.bulk(e.value)
        return true
    }

    static func get(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            _ = replyString(ctx, k, k.findForRead())
        }
    }

    static func getdel(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            let slot = k.findForRead()
            if replyString(ctx, k, slot) && slot >= 0 { k.delete(slot) }
        }
    }

    static func getset(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            let slot = k.findForRead()
            if replyString(ctx, k, slot) { k.setString(args[2], deadline: 0, at: slot) }
        }
    }

    /// MGET reads all its keys under their shards' locks at once, so it never sees half of
    /// a transaction that wrote several of them.
    static func mget(_ ctx: CommandContext, _ args: Arguments) {
        if args.count == 2 {
            ctx.reply.array(1)
            ctx.withKey(args[1]) { k in mgetOne(ctx, k) }
            return
        }
        ctx.withKeys(args, from: 1) { opener in
            ctx.reply.array(args.count - 1)
            for i in 1..<args.count { mgetOne(ctx, opener.open(args[i])) }
        }
    }

    @inline(__always)
    static func mgetOne(_ ctx: CommandContext, _ k: KeySlot) {
        let slot = k.findForRead()
        if slot >= 0 {
            let e = k.entry(slot)
            if e.kind == .string { ctx.reply.bulk(e.value); return }
        }
        ctx.reply.null()
    }

    // MARK: SET family

    struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false, persist = false
        /// 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT
        var expireKind = 0
        var expireArg: Bytes?
        /// SET ... TAGS: index of the first tag (TagCache's own option, always last).
        var tagsFrom: Int?
    }

    /// Parses SET/GETEX options like Redis's parseExtendedStringArgumentsOrReply.
    static func parseOptions(_ ctx: CommandContext, _ args: Arguments, from: Int, isSet: Bool) -> SetOptions? {
        var o = SetOptions()
        var j = from
        while j < args.count {
            let opt = args[j]
            let hasNext = j + 1 < args.count
            if isSet && opt.equalsIgnoringCase("nx") && !o.xx {
                o.nx = true
            } else if isSet && opt.equalsIgnoringCase("xx") && !o.nx {
                o.xx = true
            } else if isSet && opt.equalsIgnoringCase("get") {
                o.get = true
            } else if isSet && opt.equalsIgnoringCase("tags") && hasNext {
                // Every argument after TAGS is a tag; TAGS with none is a syntax error below.
                o.tagsFrom = j + 1
                break
            } else if isSet && opt.equalsIgnoringCase("keepttl") && !o.persist && o.expireKind == 0 {
                o.keepTTL = true
            } else if !isSet && opt.equalsIgnoringCase("persist") && o.expireKind == 0 && !o.keepTTL {
                o.persist = true
            } else if let kind = expireOption(opt), hasNext, !o.keepTTL, !o.persist,
                      o.expireKind == 0 || o.expireKind == kind {
                o.expireKind = kind
                o.expireArg = args[j + 1]
                j += 1
            } else {
                ctx.syntaxError()
                return nil
            }
            j += 1
        }
        return o
    }

    static func expireOption(_ b: Bytes) -> Int? {
        if b.equalsIgnoringCase("ex") { return 1 }
        if b.equalsIgnoringCase("px") { return 2 }
        if b.equalsIgnoringCase("exat") { return 3 }
        if b.equalsIgnoringCase("pxat") { return 4 }
        return nil
    }

    /// The absolute deadline in ms for an expire option, or nil after replying with the error.
    static func deadline(_ ctx: CommandContext, kind: Int, arg: Bytes) -> Int64? {
        guard let v = arg.redisInteger else {
            ctx.notInteger()
            return nil
        }
        let seconds = kind == 1 || kind == 3
        if v <= 0 || (seconds && v > Int.max / 1000) {
            ctx.invalidExpireTime()
            return nil
        }
        var ms = seconds ? v * 1000 : v
        if kind == 1 || kind == 2 { ms = ms &+ Int(ctx.now) }
        if ms <= 0 {
            ctx.invalidExpireTime()
            return nil
        }
        return Int64(ms)
    }

    static func set(_ ctx: CommandContext, _ args: Arguments) {
        guard let o = parseOptions(ctx, args, from: 3, isSet: true) else { return }
        var expireAt: Int64 = 0
        if let a = o.expireArg {
            guard let d = deadline(ctx, kind: o.expireKind, arg: a) else { return }
            expireAt = d
        }
        if let first = o.tagsFrom {
            store(ctx, key: args[1], value: args[2], nx: o.nx, xx: o.xx, get: o.get, keepTTL: o.keepTTL,
                  deadline: expireAt, okReply: nil, tags: (args, first))
        } else {
            store(ctx, key: args[1], value: args[2], nx: o.nx, xx: o.xx, get: o.get, keepTTL: o.keepTTL,
                  deadline: expireAt, okReply: nil)
        }
    }

    /// Redis's setGenericCommand. okReply nil = +OK / null; otherwise (1, 0) integers (SETNX).
    /// KEEPTTL keeps the key's tags as it keeps its TTL; `tags` (SET ... TAGS: the arguments and
    /// the first tag's index) are attached under the same lock as the value and TTL.
    @inline(__always)
    static func store(_ ctx: CommandContext, key: Bytes, value: Bytes, nx: Bool, xx: Bool, get: Bool,
                      keepTTL: Bool, deadline: Int64, okReply: (Int, Int)?, tags: (Arguments, Int)? = nil) {
        ctx.withKey(key) { k in
            let slot = get ? k.findForRead() : k.find()
            if get && !replyString(ctx, k, slot) { return }
            let found = slot >= 0
            if (nx && found) || (xx && !found) {
                if !get {
                    if let r = okReply { ctx.reply.integer(r.1) } else { ctx.reply.null() }
                }
                return
            }
            var d = deadline
            if keepTTL && found { d = k.entry(slot).deadline }
            k.setString(value, deadline: d, at: slot, keepTags: keepTTL)
            if let (args, first) = tags {
                let s = k.table.find(k.key, hash: k.hash)
                for i in first..<args.count { k.table.addTag(args[i], at: s) }
            }
            if !get {
                if let r = okReply { ctx.reply.integer(r.0) } else { ctx.reply.ok() }
            }
        }
    }

    static func setnx(_ ctx: CommandContext, _ args: Arguments) {
        store(ctx, key: args[1], value: args[2], nx: true, xx: false, get: false, keepTTL: false, deadline: 0,
              okReply: (1, 0))
    }

    static func setex(_ ctx: CommandContext, _ args: Arguments, unitMs: Int) {
        guard let d = deadline(ctx, kind: unitMs == 1000 ? 1 : 2, arg: args[2]) else { return }
        store(ctx, key: args[1], value: args[3], nx: false, xx: false, get: false, keepTTL: false, deadline: d,
              okReply: nil)
    }

    static func getex(_ ctx: CommandContext, _ args: Arguments) {
        guard let o = parseOptions(ctx, args, from: 2, isSet: false) else { return }
        var expireAt: Int64 = 0
        if let a = o.expireArg {
            guard let d = deadline(ctx, kind: o.expireKind, arg: a) else { return }
            expireAt = d
        }
        ctx.withKey(args[1]) { k in
            let slot = k.findForRead()
            if slot < 0 || !replyString(ctx, k, slot) {
                if slot < 0 { ctx.reply.null() }
                return
            }
            if o.expireArg != nil {
                if expireAt <= ctx.now { k.delete(slot) } else { k.setDeadline(expireAt, at: slot) }
            } else if o.persist && k.entry(slot).hasDeadline {
                k.setDeadline(0, at: slot)
            }
        }
    }

    static func mset(_ ctx: CommandContext, _ args: Arguments, onlyIfNoneExist: Bool) {
        if args.count % 2 == 0 {
            ctx.wrongArity()
            return
        }
        ctx.withKeys(args, from: 1, step: 2) { opener in
            if onlyIfNoneExist {
                for i in stride(from: 1, to: args.count, by: 2) where opener.open(args[i]).find() >= 0 {
                    ctx.reply.integer(0)
                    return
                }
            }
            var i = 1
            while i < args.count {
                let k = opener.open(args[i])
                k.setString(args[i + 1], deadline: 0, at: k.find())
                i += 2
            }
            if onlyIfNoneExist { ctx.reply.integer(1) } else { ctx.reply.ok() }
        }
    }

    // MARK: in-place changes (TTL kept)

    static func append(_ ctx: CommandContext, _ args: Arguments) {
        let add = args[2]
        ctx.withKey(args[1]) { k in
            let slot = k.find()
            if slot < 0 {
                k.setString(add, deadline: 0, at: -1)
                ctx.reply.integer(add.count)
                return
            }
            let e = k.entry(slot)
            if e.kind != .string { ctx.wrongType(); return }
            let old = e.valueLength
            if !checkLength(ctx, old, add.count) { return }
            if add.count == 0 {
                ctx.reply.integer(old)
                return
            }
            let n = k.resizeString(at: slot, to: old + add.count)
            memcpy(n.valuePointer + old, add.baseAddress!, add.count)
            ctx.reply.integer(old + add.count)
        }
    }

    /// Redis's checkStringLength: the result may not exceed proto-max-bulk-len.
    static func checkLength(_ ctx: CommandContext, _ size: Int, _ add: Int) -> Bool {
        let (total, o) = size.addingReportingOverflow(add)
        if o || total > ctx.maxStringLength {
            ctx.reply.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            return false
        }
        return true
    }

    static func strlen(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            let slot = k.findForRead()
            if slot < 0 { ctx.reply.integer(0); return }
            let e = k.entry(slot)
            if e.kind != .string { ctx.wrongType(); return }
            ctx.reply.integer(e.valueLength)
        }
    }

    static func incrby(_ ctx: CommandContext, _ args: Arguments) {
        guard let by = args[2].redisInteger else { ctx.notInteger(); return }
        incrBy(ctx, args[1], by)
    }

    static func decrby(_ ctx: CommandContext, _ args: Arguments) {
        guard let by = args[2].redisInteger else { ctx.notInteger(); return }
        if by == Int.min {
            ctx.reply.error("ERR decrement would overflow")
            return
        }
        incrBy(ctx, args[1], -by)
    }

    static func incrBy(_ ctx: CommandContext, _ key: Bytes, _ by: Int) {
        ctx.withKey(key) { k in
            let slot = k.find()
            var current = 0
            if slot >= 0 {
                let e = k.entry(slot)
                if e.kind != .string { ctx.wrongType(); return }
                guard let v = e.value.redisInteger else { ctx.notInteger(); return }
                current = v
            }
            if (by < 0 && current < 0 && by < Int.min - current) || (by > 0 && current > 0 && by > Int.max - current) {
                ctx.reply.error("ERR increment or decrement would overflow")
                return
            }
            let result = current + by
            writeDecimal(k, slot, result)
            ctx.reply.integer(result)
        }
    }

    /// Stores the decimal text of v at the key, keeping its TTL.
    static func writeDecimal(_ k: KeySlot, _ slot: Int, _ v: Int) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let n = formatDecimal(v, into: p)
            let text = Bytes(start: p, count: n)
            if slot >= 0 {
                let e = k.entry(slot)
                // Read before a resize frees e.
                let sameLength = e.valueLength == n
                let fresh = sameLength ? e : k.resizeString(at: slot, to: n)
                memcpy(fresh.valuePointer, p, n)
                if sameLength { k.shard.keyModified(db: k.db, key: k.key) }
            } else {
                k.setString(text, deadline: 0, at: -1)
            }
        }
    }

    static func incrbyfloat(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            let slot = k.find()
            var current: Float80 = 0
            if slot >= 0 {
                let e = k.entry(slot)
                if e.kind != .string { ctx.wrongType(); return }
                guard let v = e.value.redisLongDouble else { ctx.notFloat(); return }
                current = v
            }
            guard let by = args[2].redisLongDouble else { ctx.notFloat(); return }
            let result = current + by
            if result.isNaN || result.isInfinite {
                ctx.reply.error("ERR increment would produce NaN or Infinity")
                return
            }
            let text = formatLongDouble(result)
            text.withUnsafeBufferPointer { t in
                if slot >= 0 {
                    // Redis keeps the TTL here, so the key keeps its tags too.
                    let d = k.entry(slot).deadline
                    k.setString(t, deadline: d, at: slot, keepTags: true)
                } else {
                    k.setString(t, deadline: 0, at: -1)
                }
                ctx.reply.bulk(t)
            }
        }
    }

    static func getrange(_ ctx: CommandContext, _ args: Arguments) {
        guard var start = args[2].redisInteger, var end = args[3].redisInteger else {
            ctx.notInteger()
            return
        }
        ctx.withKey(args[1]) { k in
            let slot = k.findForRead()
            if slot < 0 { ctx.reply.bulk(Bytes(start: nil, count: 0)); return }
            let e = k.entry(slot)
            if e.kind != .string { ctx.wrongType(); return }
            let len = e.valueLength
            if start < 0 && end < 0 && start > end { ctx.reply.bulk(Bytes(start: nil, count: 0)); return }
            if start < 0 { start = len + start }
            if end < 0 { end = len + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= len { end = len - 1 }
            if start > end || len == 0 {
                ctx.reply.bulk(Bytes(start: nil, count: 0))
            } else {
                ctx.reply.bulk(UnsafeRawPointer(e.valuePointer + start), count: end - start + 1)
            }
        }
    }

    static func setrange(_ ctx: CommandContext, _ args: Arguments) {
        guard let offset = args[2].redisInteger else { ctx.notInteger(); return }
        if offset < 0 {
            ctx.reply.error("ERR offset is out of range")
            return
        }
        let value = args[3]
        ctx.withKey(args[1]) { k in
            let slot = k.find()
            var old = 0
            if slot >= 0 {
                let e = k.entry(slot)
                if e.kind != .string { ctx.wrongType(); return }
                old = e.valueLength
            }
            if value.count == 0 {
                ctx.reply.integer(old)
                return
            }
            if !checkLength(ctx, offset, value.count) { return }
            let newLen = max(old, offset + value.count)
            let e: Entry
            if slot >= 0 {
                e = newLen == old ? k.entry(slot) : k.resizeString(at: slot, to: newLen)
                if newLen == old { k.shard.keyModified(db: k.db, key: k.key) }
            } else {
                let fresh = Entry.makeString(key: k.key, hash: k.hash, valueLength: newLen, deadline: 0)
                memset(fresh.valuePointer, 0, newLen)
                k.put(fresh, at: -1)
                e = fresh
            }
            if offset > old { memset(e.valuePointer + old, 0, offset - old) }
            memcpy(e.valuePointer + offset, value.baseAddress!, value.count)
            ctx.reply.integer(newLen)
        }
    }
}
