import RESP
import Store

/// LPUSH, LRANGE and the rest of Redis's non-blocking list commands (t_list.c), over ListValue.
/// The blocking forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) belong to the server's blocked-client
/// machinery: it serves a woken client with `popForWaitingClient` / `moveForWaitingClient`, and
/// learns of lists that came into being from `listCreated`.
public enum ListCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.lpush) { c, a in push(c, a, front: true, onlyIfExists: false) },
        CommandSpec(.rpush) { c, a in push(c, a, front: false, onlyIfExists: false) },
        CommandSpec(.lpushx) { c, a in push(c, a, front: true, onlyIfExists: true) },
        CommandSpec(.rpushx) { c, a in push(c, a, front: false, onlyIfExists: true) },
        CommandSpec(.lpop) { c, a in pop(c, a, front: true) },
        CommandSpec(.rpop) { c, a in pop(c, a, front: false) },
        CommandSpec(.llen, llen),
        CommandSpec(.lrange, lrange),
        CommandSpec(.lindex, lindex),
        CommandSpec(.lset, lset),
        CommandSpec(.linsert, linsert),
        CommandSpec(.lrem, lrem),
        CommandSpec(.ltrim, ltrim),
        CommandSpec(.lpos, lpos),
        CommandSpec(.lmove, lmove),
        CommandSpec(.rpoplpush) { c, a in
            move(c, source: a[1], destination: a[2], fromFront: false, toFront: true)
        },
    ]

    // MARK: lookup

    /// The list at k: (slot, list), (-1, nil) when missing, nil after replying WRONGTYPE.
    @inline(__always)
    static func open(_ ctx: CommandContext, _ k: KeySlot, read: Bool) -> (Int, ListValue?)? {
        ctx.openAggregate(k, .list, as: ListValue.self, read: read)
    }

    /// The list at k when k holds one (no reply either way), noted for re-measuring at unlock
    /// (the callers pop or push).
    static func existingList(_ k: KeySlot) -> ListValue? {
        let slot = k.find()
        if slot < 0 { return nil }
        let e = k.entry(slot)
        guard e.kind == .list, let l = e.object as? ListValue else { return nil }
        k.shard.willWrite(l)
        return l
    }

    /// Stores a new, empty list under k (which must be missing) and returns it.
    static func create(_ k: KeySlot) -> ListValue {
        let l = ListValue()
        k.put(Entry.makeObject(key: k.key, hash: k.hash, kind: .list, object: l, deadline: 0), at: -1)
        listCreated(k)
        return l
    }

    /// Where Redis's dbAdd calls signalKeyAsReady: a list came into being under k, so clients
    /// blocked on it are served once the command is done (BlockingCommands.serveReadyKeys).
    static func listCreated(_ k: KeySlot) { k.shard.waitList.signalReady(db: k.db, key: k.key) }

    /// Deletes k if present (an emptied list).
    static func deleteIfPresent(_ k: KeySlot) {
        let s = k.table.find(k.key, hash: k.hash)
        if s >= 0 { k.delete(s) }
    }

    // MARK: serving blocked clients

    /// What moving an element for a waiting BLMOVE/BRPOPLPUSH client did.
    public enum WaitingClientMove {
        /// The element moved (and is the reply).
        case moved([UInt8])
        /// The source holds no list (any more): keep the client waiting.
        case nothing
        /// The destination holds another type: the client gets WRONGTYPE.
        case destinationWrongType
    }

    /// Pops one element for a client blocked in BLPOP/BRPOP on this key, deleting the key when
    /// the list empties; nil when the key holds no list. The caller holds the key's shard lock
    /// (ctx.withKey / withKeys) and replies to the woken client.
    public static func popForWaitingClient(_ k: KeySlot, fromFront: Bool) -> [UInt8]? {
        guard let l = existingList(k), let v = l.pop(fromFront: fromFront) else { return nil }
        if l.count == 0 { deleteIfPresent(k) } else { k.shard.keyModified(db: k.db, key: k.key) }
        return v
    }

    /// LMOVE's work for a client blocked in BLMOVE/BRPOPLPUSH, with both keys' shards locked.
    public static func moveForWaitingClient(_ opener: KeyOpener, source: Bytes, destination: Bytes,
                                            fromFront: Bool, toFront: Bool) -> WaitingClientMove {
        let from = opener.open(source)
        guard let src = existingList(from), src.count > 0 else { return .nothing }
        let to = opener.open(destination)
        let ds = to.find()
        if ds >= 0 && to.entry(ds).kind != .list { return .destinationWrongType }
        return .moved(transfer(src, from, to, fromFront: fromFront, toFront: toFront))
    }

    /// Pops from src's end and pushes onto the destination's (created when missing); deletes
    /// the source when it empties. Returns the element.
    static func transfer(_ src: ListValue, _ from: KeySlot, _ to: KeySlot, fromFront: Bool, toFront: Bool) -> [UInt8] {
        let v = src.pop(fromFront: fromFront) ?? []
        let dst = existingList(to) ?? create(to)
        v.withUnsafeBufferPointer { b in
            if toFront { dst.pushFront(b) } else { dst.pushBack(b) }
        }
        to.shard.keyModified(db: to.db, key: to.key)
        if src.count == 0 { deleteIfPresent(from) } else { from.shard.keyModified(db: from.db, key: from.key) }
        return v
    }

    // MARK: LPUSH RPUSH LPUSHX RPUSHX

    static func push(_ ctx: CommandContext, _ args: Arguments, front: Bool, onlyIfExists: Bool) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: false) else { return }
            let l: ListValue
            if let f = found {
                l = f
            } else if onlyIfExists {
                ctx.reply.integer(0)
                return
            } else {
                l = create(k)
            }
            for i in 2..<args.count {
                if front { l.pushFront(args[i]) } else { l.pushBack(args[i]) }
            }
            k.shard.keyModified(db: k.db, key: k.key)
            ctx.reply.integer(l.count)
        }
    }

    // MARK: LPOP RPOP

    static func pop(_ ctx: CommandContext, _ args: Arguments, front: Bool) {
        if args.count > 3 {
            ctx.wrongArity()
            return
        }
        var count = -1
        if args.count == 3 {
            guard let c = args[2].redisInteger, c >= 0 else {
                ctx.reply.error("ERR value is out of range, must be positive")
                return
            }
            count = c
        }
        ctx.withKey(args[1]) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let l = found else {
                if count >= 0 { ctx.reply.nullArray() } else { ctx.reply.null() }
                return
            }
            if count == 0 {
                ctx.reply.array(0)
                return
            }
            if count < 0 {
                ctx.reply.bulk(front ? l.first : l.last)
                if front { l.removeFirst() } else { l.removeLast() }
            } else {
                let n = min(count, l.count)
                ctx.reply.array(n)
                if front {
                    var left = n
                    l.forEach(from: 0) { e in
                        ctx.reply.bulk(e)
                        left -= 1
                        return left > 0
                    }
                } else {
                    var p: ListValue.Position? = l.lastPosition
                    for _ in 0..<n {
                        guard let q = p else { break }
                        ctx.reply.bulk(l.element(at: q))
                        p = l.position(before: q)
                    }
                }
                if front { l.removeFirst(n) } else { l.removeLast(n) }
            }
            if l.count == 0 { k.delete(slot) } else { k.shard.keyModified(db: k.db, key: k.key) }
        }
    }

    // MARK: LLEN LINDEX LRANGE

    static func llen(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            ctx.reply.integer(found?.count ?? 0)
        }
    }

    static func lindex(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let l = found else {
                ctx.reply.null()
                return
            }
            guard var index = args[2].redisInteger else {
                ctx.notInteger()
                return
            }
            if index < 0 { index += l.count }
            if index < 0 || index >= l.count {
                ctx.reply.null()
                return
            }
            ctx.reply.bulk(l.element(atIndex: index))
        }
    }

    /// Redis's range clamping (LRANGE, LTRIM): nil when the range is empty.
    static func clamp(_ start0: Int, _ end0: Int, _ len: Int) -> (Int, Int)? {
        var start = start0, end = end0
        if start < 0 { start += len }
        if end < 0 { end += len }
        if start < 0 { start = 0 }
        if start > end || start >= len { return nil }
        if end >= len { end = len - 1 }
        return (start, end)
    }

    static func lrange(_ ctx: CommandContext, _ args: Arguments) {
        guard let start = args[2].redisInteger, let end = args[3].redisInteger else {
            ctx.notInteger()
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let l = found, let (s, e) = clamp(start, end, l.count) else {
                ctx.reply.array(0)
                return
            }
            var n = e - s + 1
            ctx.reply.array(n)
            l.forEach(from: s) { element in
                ctx.reply.bulk(element)
                n -= 1
                return n > 0
            }
        }
    }

    // MARK: LSET LINSERT LREM LTRIM

    static func lset(_ ctx: CommandContext, _ args: Arguments) {
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: false) else { return }
            guard let l = found else {
                ctx.reply.error("ERR no such key")
                return
            }
            guard var index = args[2].redisInteger else {
                ctx.notInteger()
                return
            }
            if index < 0 { index += l.count }
            if index < 0 || index >= l.count {
                ctx.reply.error("ERR index out of range")
                return
            }
            l.replace(at: l.position(ofIndex: index), with: args[3])
            k.shard.keyModified(db: k.db, key: k.key)
            ctx.reply.ok()
        }
    }

    static func linsert(_ ctx: CommandContext, _ args: Arguments) {
        let after: Bool
        if args[2].equalsIgnoringCase("after") {
            after = true
        } else if args[2].equalsIgnoringCase("before") {
            after = false
        } else {
            ctx.syntaxError()
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: false) else { return }
            guard let l = found else {
                ctx.reply.integer(0)
                return
            }
            let pivot = args[3]
            var p: ListValue.Position? = l.firstPosition
            while let q = p {
                if l.element(at: q).equals(pivot) {
                    l.insert(args[4], at: q, after: after)
                    k.shard.keyModified(db: k.db, key: k.key)
                    ctx.reply.integer(l.count)
                    return
                }
                p = l.position(after: q)
            }
            ctx.reply.integer(-1)
        }
    }

    static func lrem(_ ctx: CommandContext, _ args: Arguments) {
        guard let toRemove = args[2].redisInteger else {
            ctx.notInteger()
            return
        }
        let element = args[3]
        ctx.withKey(args[1]) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let l = found else {
                ctx.reply.integer(0)
                return
            }
            var removed = 0
            if toRemove < 0 {
                // From the tail; -Int.min stays negative in Redis too, and then never matches.
                let limit = 0 &- toRemove
                var p: ListValue.Position? = l.lastPosition
                while let q = p {
                    let before = l.position(before: q)
                    if l.element(at: q).equals(element) {
                        l.remove(at: q)
                        removed += 1
                        if removed == limit { break }
                    }
                    p = before
                }
            } else {
                var p: ListValue.Position? = l.firstPosition
                while let q = p {
                    if l.element(at: q).equals(element) {
                        p = l.remove(at: q)
                        removed += 1
                        if toRemove != 0 && removed == toRemove { break }
                    } else {
                        p = l.position(after: q)
                    }
                }
            }
            k.aggregateShrank(at: slot, isEmpty: l.count == 0, changed: removed > 0)
            ctx.reply.integer(removed)
        }
    }

    static func ltrim(_ ctx: CommandContext, _ args: Arguments) {
        guard let start = args[2].redisInteger, let end = args[3].redisInteger else {
            ctx.notInteger()
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let l = found else {
                ctx.reply.ok()
                return
            }
            let len = l.count
            if let (s, e) = clamp(start, end, len) {
                l.removeLast(len - e - 1)
                l.removeFirst(s)
            } else {
                l.removeFirst(len)
            }
            if l.count == 0 { k.delete(slot) } else { k.shard.keyModified(db: k.db, key: k.key) }
            ctx.reply.ok()
        }
    }

    // MARK: LPOS

    static func lpos(_ ctx: CommandContext, _ args: Arguments) {
        var rank = 1, count = -1, maxlen = 0
        var j = 3
        while j < args.count {
            let option = args[j].cString
            let more = args.count - 1 - j
            if option.equalsIgnoringCase("rank") && more > 0 {
                guard let r = args[j + 1].redisInteger else { ctx.notInteger(); return }
                if r == 0 {
                    ctx.reply.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                    return
                }
                rank = r
            } else if option.equalsIgnoringCase("count") && more > 0 {
                guard let c = args[j + 1].redisInteger, c >= 0 else {
                    ctx.reply.error("ERR COUNT can't be negative")
                    return
                }
                count = c
            } else if option.equalsIgnoringCase("maxlen") && more > 0 {
                guard let m = args[j + 1].redisInteger, m >= 0 else {
                    ctx.reply.error("ERR MAXLEN can't be negative")
                    return
                }
                maxlen = m
            } else {
                ctx.syntaxError()
                return
            }
            j += 2
        }
        // A negative rank searches from the tail; like Redis, -Int.min wraps and stays negative,
        // which makes every match qualify.
        let fromTail = rank < 0
        if fromTail { rank = 0 &- rank }
        let element = args[2]
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let l = found else {
                if count != -1 { ctx.reply.array(0) } else { ctx.reply.null() }
                return
            }
            let len = l.count
            var matches = 0
            var results: [Int] = []
            var single = -1
            var index = 0
            var p: ListValue.Position? = len == 0 ? nil : (fromTail ? l.lastPosition : l.firstPosition)
            while let q = p, maxlen == 0 || index < maxlen {
                if l.element(at: q).equals(element) {
                    matches += 1
                    let at = fromTail ? len - index - 1 : index
                    if matches >= rank {
                        if count != -1 {
                            results.append(at)
                            if count != 0 && (matches &- rank &+ 1) >= count { break }
                        } else {
                            single = at
                            break
                        }
                    }
                }
                index += 1
                p = fromTail ? l.position(before: q) : l.position(after: q)
            }
            if count != -1 {
                ctx.reply.array(results.count)
                for r in results { ctx.reply.integer(r) }
            } else if single >= 0 {
                ctx.reply.integer(single)
            } else {
                ctx.reply.null()
            }
        }
    }

    // MARK: LMOVE RPOPLPUSH

    /// LEFT / RIGHT (any case): true for LEFT, nil when neither.
    static func side(_ b: Bytes) -> Bool? {
        if b.equalsIgnoringCase("left") { return true }
        if b.equalsIgnoringCase("right") { return false }
        return nil
    }

    static func lmove(_ ctx: CommandContext, _ args: Arguments) {
        guard let fromFront = side(args[3]), let toFront = side(args[4]) else {
            ctx.syntaxError()
            return
        }
        move(ctx, source: args[1], destination: args[2], fromFront: fromFront, toFront: toFront)
    }

    /// Redis's lmoveGenericCommand: a missing source answers null before the destination is
    /// looked at.
    static func move(_ ctx: CommandContext, source: Bytes, destination: Bytes, fromFront: Bool, toFront: Bool) {
        ctx.withKeys([source, destination]) { opener in
            let from = opener.open(source)
            guard let (_, found) = open(ctx, from, read: false) else { return }
            guard let src = found, src.count > 0 else {
                ctx.reply.null()
                return
            }
            let to = opener.open(destination)
            guard open(ctx, to, read: false) != nil else { return }
            ctx.reply.bulk(transfer(src, from, to, fromFront: fromFront, toFront: toFront))
        }
    }
}
