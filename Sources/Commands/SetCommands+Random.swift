import RESP
import Store

/// SPOP and SRANDMEMBER: random members, the repeating form held to count-reply-max-bytes.
extension SetCommands {
    static func spop(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 3 {
            ctx.syntaxError()
            return
        }
        if args.count == 3 {
            guard let count = args[2].redisInteger, count >= 0 else {
                ctx.reply.error("ERR value is out of range, must be positive")
                return
            }
            spopCount(ctx, args[1], count)
            return
        }
        ctx.withKey(args[1]) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let s = found else {
                ctx.reply.null()
                return
            }
            s.popRandom { ctx.reply.bulk($0) }
            if s.count == 0 { k.delete(slot) } else { k.shard.keyModified(db: k.db, key: k.key) }
        }
    }

    /// Redis's spopWithCountCommand: the whole set when count >= size (the key goes); a few
    /// random pops while few are asked for; otherwise the members to keep are drawn into a new
    /// set and the rest is returned (the entry, and its TTL, stay).
    static func spopCount(_ ctx: CommandContext, _ key: Bytes, _ count: Int) {
        ctx.withKey(key) { k in
            guard let (slot, found) = open(ctx, k, read: false) else { return }
            guard let s = found, count > 0 else {
                ctx.reply.set(0)
                return
            }
            let size = s.count
            if count >= size {
                // Redis answers through SUNION: integers come back ascending, and its lookup
                // counts a keyspace hit.
                k.shard.stats.keyspaceHits += 1
                let all = SetValue()
                s.forEach { all.add($0); return true }
                ctx.reply.set(all.count)
                all.forEach { ctx.reply.bulk($0); return true }
                k.delete(slot)
                return
            }
            ctx.reply.set(count)
            let remaining = size - count
            if remaining * 5 > count {
                for _ in 0..<count { s.popRandom { ctx.reply.bulk($0) } }
            } else {
                var kept: SetValue?
                for _ in 0..<remaining {
                    s.popRandom { m in
                        if kept == nil { kept = SetValue(for: m) }
                        kept?.add(m)
                    }
                }
                s.forEach { ctx.reply.bulk($0); return true }
                if let n = kept { s.take(n) }
            }
            k.shard.keyModified(db: k.db, key: k.key)
        }
    }

    static func srandmember(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 3 {
            ctx.syntaxError()
            return
        }
        if args.count == 2 {
            ctx.withKey(args[1]) { k in
                guard let (_, found) = open(ctx, k, read: true) else { return }
                guard let s = found else {
                    ctx.reply.null()
                    return
                }
                s.withRandomMember { ctx.reply.bulk($0) }
            }
            return
        }
        guard let l = ctx.randomCount(args[2]) else { return }
        ctx.withKey(args[1]) { k in
            guard let (_, found) = open(ctx, k, read: true) else { return }
            guard let s = found, l != 0 else {
                ctx.reply.array(0)
                return
            }
            let count = l < 0 ? -l : l
            let size = s.count
            if l < 0 || count == 1 {
                guard let budget = CountedReply(ctx, elements: count, bytesEach: CountedReply.leastBulk) else { return }
                ctx.reply.array(count)
                for _ in 0..<count {
                    s.withRandomMember { ctx.reply.bulk($0) }
                    if budget.exceeded() { return }
                }
                return
            }
            if count >= size {
                ctx.reply.array(size)
                s.forEach { ctx.reply.bulk($0); return true }
                return
            }
            // Distinct members: choose `count` positions of the iteration order.
            var chosen = Array(repeating: false, count: size)
            var picked = 0
            if count * 3 > size {
                for i in 0..<size where FastRandom.int(in: 0..<(size - i)) < count - picked {
                    chosen[i] = true
                    picked += 1
                }
            } else {
                while picked < count {
                    let i = FastRandom.int(in: 0..<size)
                    if !chosen[i] { chosen[i] = true; picked += 1 }
                }
            }
            ctx.reply.array(count)
            var i = 0
            s.forEach { m in
                if chosen[i] { ctx.reply.bulk(m) }
                i += 1
                return true
            }
        }
    }
}
