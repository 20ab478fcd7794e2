import RESP
import Store

/// KEYS, SCAN, RANDOMKEY and DBSIZE: the commands that walk the whole keyspace, one shard lock
/// at a time.
extension KeyCommands {
    // MARK: KEYS SCAN RANDOMKEY DBSIZE

    /// KEYS locks one shard at a time: each shard's keys are a consistent view, the whole reply
    /// is not a snapshot across shards (as it would be in single-threaded Redis).
    static func keys(_ ctx: CommandContext, _ args: Arguments) {
        let pattern = args[1]
        let db = ctx.client.db
        let now = ctx.now
        var found = KeyList()
        for shard in ctx.keyspace.shards {
            ctx.lock(shard)
            if let t = shard.existingTable(db), t.count > 0 {
                t.forEachSlot { _, e in
                    // Expired keys are skipped, not removed (Redis's keyIsExpired check).
                    let d = e.deadline
                    if (d == 0 || d > now) && GlobPattern.matches(pattern: pattern, e.key) { found.append(e.key) }
                    return true
                }
            }
            ctx.unlock(shard)
        }
        found.reply(ctx.reply)
    }

    /// SCAN's cursor holds the shard in its low `shardBits` bits and the shard table's
    /// reverse-binary cursor (Table.scan) above them: `cursor = tableCursor << shardBits | shard`.
    /// A full iteration walks shard 0's table, then shard 1's, ..., so it returns every key that
    /// exists for the whole iteration, across table resizes, as Redis's dictScan does.
    static func scan(_ ctx: CommandContext, _ args: Arguments) {
        guard let cursor = parseCursor(args[1]) else { ctx.reply.error("ERR invalid cursor"); return }
        var count = 10
        var pattern: Bytes?
        var typeName: Bytes?
        var i = 2
        while i < args.count {
            let more = args.count - i
            let option = args[i].cString
            if option.equalsIgnoringCase("count") && more >= 2 {
                guard let c = args[i + 1].redisInteger else { ctx.notInteger(); return }
                if c < 1 { ctx.syntaxError(); return }
                count = c
            } else if option.equalsIgnoringCase("match") && more >= 2 {
                let p = args[i + 1]
                pattern = p.count == 1 && p[0] == 42 ? nil : p
            } else if option.equalsIgnoringCase("type") && more >= 2 {
                typeName = args[i + 1].cString
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
        var tableCursor = cursor >> bits
        // Redis visits at most COUNT*10 buckets per call and stops once COUNT keys were seen
        // (before filtering). Empty shards cost nothing, so a small keyspace finishes in one call.
        let (m, overflow) = count.multipliedReportingOverflow(by: 10)
        var budget = overflow ? Int.max : m
        var seen = 0
        var found = KeyList()
        var expired: [([UInt8], UInt32)] = []
        var next: UInt64 = 0
        while true {
            let shard = ks.shards[shardIndex]
            ctx.lock(shard)
            if let t = shard.existingTable(db), t.count > 0 {
                repeat {
                    tableCursor = t.scan(tableCursor) { e in
                        seen += 1
                        if let p = pattern, !GlobPattern.matches(pattern: p, e.key) { return }
                        let d = e.deadline
                        if d != 0 && d <= now {
                            if typeName != nil { shard.stats.keyspaceMisses += 1 }
                            expired.append((Array(e.key), e.hash))
                            return
                        }
                        if let tn = typeName {
                            // Redis looks the key up to learn its type, which counts a hit.
                            shard.stats.keyspaceHits += 1
                            if !tn.equalsIgnoringCase(e.kind.typeName) { return }
                        }
                        found.append(e.key)
                    }
                    budget -= 1
                    // Remove expired keys after the bucket's walk, never during it.
                    for (k, h) in expired {
                        _ = k.withUnsafeBufferPointer { shard.liveSlot(t, $0, hash: h, now: now, db: db) }
                    }
                    expired.removeAll(keepingCapacity: true)
                } while tableCursor != 0 && budget > 0 && seen < count
            } else {
                tableCursor = 0
            }
            ctx.unlock(shard)
            if tableCursor != 0 {
                next = tableCursor << bits | UInt64(shardIndex)
                break
            }
            shardIndex += 1
            if shardIndex == ks.shardCount { next = 0; break }
            if budget <= 0 || seen >= count { next = UInt64(shardIndex); break }
        }
        ctx.reply.array(2)
        var digits: [UInt8] = []
        var v = next
        repeat { digits.append(UInt8(48 + v % 10)); v /= 10 } while v > 0
        ctx.reply.bulk(Array(digits.reversed()))
        found.reply(ctx.reply)
    }

    /// A cursor as Redis's strtoul-based parser accepts it: the text up to the first NUL,
    /// optional sign (a negative value wraps), decimal digits; "" is cursor 0.
    static func parseCursor(_ b: Bytes) -> UInt64? {
        var n = 0
        while n < b.count && b[n] != 0 { n += 1 }
        if n == 0 { return 0 }
        let first = b[0]
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var i = 0
        var negative = false
        if first == 43 || first == 45 {
            negative = first == 45
            i = 1
        }
        if i == n { return nil }
        var v: UInt64 = 0
        while i < n {
            let c = b[i]
            if c < 48 || c > 57 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return negative ? 0 &- v : v
    }

    /// RANDOMKEY: picks a shard weighted by its key count, then a random entry in it. Expired
    /// entries met on the way are removed and the pick retried, as Redis's dbRandomKey does.
    static func randomKey(_ ctx: CommandContext) {
        let ks = ctx.keyspace
        let db = ctx.client.db
        let now = ctx.now
        var counts = [Int](repeating: 0, count: ks.shardCount)
        while true {
            var total = 0
            for (i, shard) in ks.shards.enumerated() {
                ctx.lock(shard)
                counts[i] = shard.existingTable(db)?.count ?? 0
                ctx.unlock(shard)
                total += counts[i]
            }
            if total == 0 { ctx.reply.null(); return }
            var r = FastRandom.int(in: 0..<total)
            var index = 0
            while r >= counts[index] {
                r -= counts[index]
                index += 1
            }
            let shard = ks.shards[index]
            var key: [UInt8]?
            ctx.lock(shard)
            if let t = shard.existingTable(db) {
                // A few picks inside the shard before counting again.
                for _ in 0..<8 {
                    guard let s = t.randomSlot() else { break }
                    let e = t.entry(at: s)
                    let d = e.deadline
                    if d == 0 || d > now {
                        key = Array(e.key)
                        break
                    }
                    _ = shard.liveSlot(t, e.key, hash: e.hash, now: now, db: db)
                }
            }
            ctx.unlock(shard)
            if let k = key {
                ctx.reply.bulk(k)
                return
            }
        }
    }

    /// DBSIZE counts entries, including expired ones not yet removed (as Redis's dictSize does).
    static func dbsize(_ ctx: CommandContext) {
        let db = ctx.client.db
        var n = 0
        for shard in ctx.keyspace.shards {
            ctx.lock(shard)
            n += shard.existingTable(db)?.count ?? 0
            ctx.unlock(shard)
        }
        ctx.reply.integer(n)
    }
}

/// Keys gathered for a reply (KEYS, SCAN) while shard locks are held: one flat byte buffer and
/// the end offset of each key, so gathering costs no allocation per key.
private struct KeyList {
    var bytes: [UInt8] = []
    var ends: [Int] = []

    mutating func append(_ key: Bytes) {
        bytes.append(contentsOf: key)
        ends.append(bytes.count)
    }

    /// Writes the keys as an array of bulk strings.
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
