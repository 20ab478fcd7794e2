import RESP
import Store

/// The generic key commands (Redis's db.c and expire.c): DEL, EXISTS, TYPE, the EXPIRE and TTL
/// families, RENAME, COPY, MOVE, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, TOUCH.
public enum KeyCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.`del`) { ctx, args in del(ctx, args) },
        CommandSpec(.unlink) { ctx, args in del(ctx, args) },
        CommandSpec(.exists) { ctx, args in countLive(ctx, args) },
        CommandSpec(.`type`) { ctx, args in typeOf(ctx, args) },
        CommandSpec(.expire) { ctx, args in expire(ctx, args, relative: true, seconds: true) },
        CommandSpec(.pexpire) { ctx, args in expire(ctx, args, relative: true, seconds: false) },
        CommandSpec(.expireat) { ctx, args in expire(ctx, args, relative: false, seconds: true) },
        CommandSpec(.pexpireat) { ctx, args in expire(ctx, args, relative: false, seconds: false) },
        CommandSpec(.ttl) { ctx, args in ttl(ctx, args, milliseconds: false, absolute: false) },
        CommandSpec(.pttl) { ctx, args in ttl(ctx, args, milliseconds: true, absolute: false) },
        CommandSpec(.expiretime) { ctx, args in ttl(ctx, args, milliseconds: false, absolute: true) },
        CommandSpec(.pexpiretime) { ctx, args in ttl(ctx, args, milliseconds: true, absolute: true) },
        CommandSpec(.persist) { ctx, args in persist(ctx, args) },
        CommandSpec(.rename) { ctx, args in rename(ctx, args, nx: false) },
        CommandSpec(.renamenx) { ctx, args in rename(ctx, args, nx: true) },
        CommandSpec(.copy) { ctx, args in copy(ctx, args) },
        CommandSpec(.move) { ctx, args in move(ctx, args) },
        CommandSpec(.keys) { ctx, args in keys(ctx, args) },
        CommandSpec(.scan) { ctx, args in scan(ctx, args) },
        CommandSpec(.randomkey) { ctx, _ in randomKey(ctx) },
        CommandSpec(.dbsize) { ctx, _ in dbsize(ctx) },
        CommandSpec(.flushdb) { ctx, args in flush(ctx, args, all: false) },
        CommandSpec(.flushall) { ctx, args in flush(ctx, args, all: true) },
        CommandSpec(.touch) { ctx, args in countLive(ctx, args) },
    ]

    // MARK: DEL UNLINK EXISTS TOUCH TYPE

    /// DEL / UNLINK: entries are freed in place either way (one malloc block each, so there is
    /// nothing worth handing to another thread).
    static func del(_ ctx: CommandContext, _ args: Arguments) {
        let n = forEachKey(ctx, args) { slot in
            let s = slot.find()
            if s < 0 { return false }
            slot.delete(s)
            return true
        }
        ctx.reply.integer(n)
    }

    /// EXISTS / TOUCH: live keys named, duplicates counted each time; hits and misses counted as
    /// lookupKeyRead does.
    /// EXISTS and TOUCH. Only TOUCH counts as an access: EXISTS looks up with LOOKUP_NOTOUCH.
    static func countLive(_ ctx: CommandContext, _ args: Arguments) {
        let touch = !args[0].equalsIgnoringCase("exists")
        ctx.reply.integer(forEachKey(ctx, args) { $0.findForRead(touch: touch) >= 0 })
    }

    /// Runs body for args[1...] under one lock set (atomic, as in Redis) and counts the trues.
    @inline(__always)
    static func forEachKey(_ ctx: CommandContext, _ args: Arguments, _ body: (KeySlot) -> Bool) -> Int {
        if args.count == 2 { return ctx.withKey(args[1]) { body($0) ? 1 : 0 } }
        return ctx.withKeys(args, from: 1) { opener in
            var n = 0
            for i in 1..<args.count where body(opener.open(args[i])) { n += 1 }
            return n
        }
    }

    static func typeOf(_ ctx: CommandContext, _ args: Arguments) {
        let kind: ValueKind? = ctx.withKey(args[1]) { slot in
            let s = slot.findForRead(touch: false)
            return s < 0 ? nil : slot.entry(s).kind
        }
        if let k = kind { ctx.reply.simple(k.typeName) } else { ctx.reply.simple("none") }
    }

    // MARK: EXPIRE PEXPIRE EXPIREAT PEXPIREAT

    /// The four setters share Redis's expireGenericCommand: options are checked before the time,
    /// the time is converted to absolute ms with overflow checks, and a time not after now
    /// deletes the key (reply 1).
    static func expire(_ ctx: CommandContext, _ args: Arguments, relative: Bool, seconds: Bool) {
        var nx = false, xx = false, gt = false, lt = false
        var i = 3
        while i < args.count {
            let a = args[i].cString
            if a.equalsIgnoringCase("nx") {
                nx = true
            } else if a.equalsIgnoringCase("xx") {
                xx = true
            } else if a.equalsIgnoringCase("gt") {
                gt = true
            } else if a.equalsIgnoringCase("lt") {
                lt = true
            } else {
                errorNaming(ctx, "ERR Unsupported option ", a)
                return
            }
            i += 1
        }
        if nx && (xx || gt || lt) {
            ctx.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible")
            return
        }
        if gt && lt {
            ctx.reply.error("ERR GT and LT options at the same time are not compatible")
            return
        }
        guard var when = args[2].redisInteger.map(Int64.init) else { ctx.notInteger(); return }
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 { invalidExpireTime(ctx); return }
            when *= 1000
        }
        let base: Int64 = relative ? ctx.now : 0
        if when > Int64.max - base { invalidExpireTime(ctx); return }
        when += base

        let set = ctx.withKey(args[1]) { slot -> Bool in
            let s = slot.find()
            if s < 0 { return false }
            let d = slot.entry(s).deadline
            let current: Int64 = d == 0 ? -1 : d
            if nx && current != -1 { return false }
            if xx && current == -1 { return false }
            // No TTL counts as infinite: GT always fails, LT always passes.
            if gt && (current == -1 || when <= current) { return false }
            if lt && current != -1 && when >= current { return false }
            if when <= slot.now {
                slot.delete(s)
            } else {
                slot.setDeadline(when, at: s)
            }
            return true
        }
        ctx.reply.integer(set ? 1 : 0)
    }

    static func invalidExpireTime(_ ctx: CommandContext) {
        ctx.reply.error("ERR invalid expire time in '\(ctx.current?.fullName ?? "expire")' command")
    }

    // MARK: TTL PTTL EXPIRETIME PEXPIRETIME PERSIST

    static func ttl(_ ctx: CommandContext, _ args: Arguments, milliseconds: Bool, absolute: Bool) {
        let v = ctx.withKey(args[1]) { slot -> Int64 in
            let s = slot.findForRead(touch: false)
            if s < 0 { return -2 }
            let d = slot.entry(s).deadline
            if d == 0 { return -1 }
            let t = max(absolute ? d : d - slot.now, 0)
            // Unsigned like the compiled Redis, so a deadline near Int64.max rounds instead of
            // wrapping negative.
            return milliseconds ? t : Int64(bitPattern: (UInt64(t) + 500) / 1000)
        }
        ctx.reply.integer(Int(v))
    }

    static func persist(_ ctx: CommandContext, _ args: Arguments) {
        let removed = ctx.withKey(args[1]) { slot -> Bool in
            let s = slot.find()
            if s < 0 || slot.entry(s).deadline == 0 { return false }
            slot.setDeadline(0, at: s)
            return true
        }
        ctx.reply.integer(removed ? 1 : 0)
    }

    // MARK: RENAME RENAMENX COPY MOVE

    private enum RenameOutcome { case renamed, destinationExists, noSource, sameKey }

    static func rename(_ ctx: CommandContext, _ args: Arguments, nx: Bool) {
        let src = args[1], dst = args[2]
        let sameKey = src.equals(dst)
        let outcome = ctx.withKeys([src, dst]) { opener -> RenameOutcome in
            let from = opener.open(src)
            if from.find() < 0 { return .noSource }
            if sameKey { return .sameKey }
            let to = opener.open(dst)
            // find() may expire the destination, which can shift the source's slot when both
            // share a table: look the source up again afterwards.
            if to.find() >= 0 && nx { return .destinationExists }
            let s = from.table.find(src, hash: from.hash)
            // The tags move with the value (and TTL); the destination's own tags are dropped.
            let tags = from.tagNames(at: s)
            let moved = from.entry(s).copy(newKey: dst, hash: to.hash, duplicateObject: false)
            from.delete(s)
            to.putRetagged(moved, at: to.table.find(dst, hash: to.hash), tags: tags)
            return .renamed
        }
        switch outcome {
        case .noSource: ctx.reply.error("ERR no such key")
        case .sameKey, .destinationExists: if nx { ctx.reply.integer(0) } else { ctx.reply.ok() }
        case .renamed: if nx { ctx.reply.integer(1) } else { ctx.reply.ok() }
        }
    }

    static func copy(_ ctx: CommandContext, _ args: Arguments) {
        var targetDb = ctx.client.db
        var replace = false
        var j = 3
        while j < args.count {
            let option = args[j].cString
            if option.equalsIgnoringCase("replace") {
                replace = true
            } else if option.equalsIgnoringCase("db") && j + 1 < args.count {
                guard let db = parseDatabase(ctx, args[j + 1]) else { return }
                targetDb = db
                j += 1
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        let src = args[1], dst = args[2]
        if targetDb == ctx.client.db && src.equals(dst) {
            ctx.reply.error("ERR source and destination objects are the same")
            return
        }
        let copied = ctx.withKeys([src, dst]) { opener -> Bool in
            let from = opener.open(src)
            if from.findForRead() < 0 { return false }
            let to = opener.open(dst, db: targetDb)
            let existing = to.find()
            if existing >= 0 && !replace { return false }
            // The destination lookup may have moved the source's slot (see rename).
            let s = from.table.find(src, hash: from.hash)
            let e = from.entry(s).copy(newKey: dst, hash: to.hash, duplicateObject: true)
            to.putRetagged(e, at: existing, tags: from.tagNames(at: s))
            return true
        }
        ctx.reply.integer(copied ? 1 : 0)
    }

    static func move(_ ctx: CommandContext, _ args: Arguments) {
        guard let targetDb = parseDatabase(ctx, args[2]) else { return }
        if targetDb == ctx.client.db {
            ctx.reply.error("ERR source and destination objects are the same")
            return
        }
        let key = args[1]
        // Both databases' tables of a key live in the key's shard: one lock covers the move.
        let moved = ctx.withKeys([key]) { opener -> Bool in
            let from = opener.open(key)
            let s = from.find()
            if s < 0 { return false }
            let to = opener.open(key, db: targetDb)
            if to.find() >= 0 { return false }
            // Same key, same hash: the entry itself moves, no copy; its tags are read before
            // detach drops them from the source database's index.
            let tags = from.tagNames(at: s)
            let e = from.table.detach(at: s)
            from.shard.keyModified(db: from.db, key: key)
            to.putRetagged(e, at: -1, tags: tags)
            return true
        }
        ctx.reply.integer(moved ? 1 : 0)
    }

    /// A database number as Redis's getIntFromObjectOrReply + selectDb check it, or nil after
    /// replying with the error.
    static func parseDatabase(_ ctx: CommandContext, _ arg: Bytes) -> Int? {
        guard let v = arg.redisInteger else { ctx.notInteger(); return nil }
        if v < Int(Int32.min) || v > Int(Int32.max) {
            ctx.reply.error("ERR value is out of range, value must between -2147483648 and 2147483647")
            return nil
        }
        if v < 0 || v >= ctx.keyspace.databases {
            ctx.reply.error("ERR DB index is out of range")
            return nil
        }
        return v
    }

    // MARK: FLUSHDB FLUSHALL

    /// FLUSHDB / FLUSHALL [ASYNC|SYNC]: both modes are Keyspace.flushCounting's (entries freed
    /// after the locks are released).
    static func flush(_ ctx: CommandContext, _ args: Arguments, all: Bool) {
        if args.count > 2 || (args.count == 2 && !args[1].cString.equalsIgnoringCase("sync")
            && !args[1].cString.equalsIgnoringCase("async")) {
            ctx.syntaxError()
            return
        }
        let ks = ctx.keyspace
        let freed = ks.flushCounting(db: all ? nil : ctx.client.db, locked: ctx.holdsAllShards)
        ks.trimHeapIfWorthIt(freed: freed)
        ctx.reply.ok()
    }

    // MARK: helpers

    /// An error naming a client-sent argument, byte for byte as Redis's addReplyErrorFormat
    /// prints it: cut at the first NUL (it is a C string), trailing CR/LF trimmed, inner CR/LF
    /// turned into spaces (by ReplyWriter), UTF-8 or not.
    static func errorNaming(_ ctx: CommandContext, _ prefix: StaticString, _ arg: Bytes) {
        var n = 0
        while n < arg.count && arg[n] != 0 { n += 1 }
        while n > 0 && (arg[n - 1] == 13 || arg[n - 1] == 10) { n -= 1 }
        var m = Array(UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        m.append(contentsOf: arg[0..<n])
        m.withUnsafeBytes { ctx.reply.error(bytes: $0) }
    }
}
