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
        var found = BulkList()
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

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type] (Keyspace.scanKeys).
    static func scan(_ ctx: CommandContext, _ args: Arguments) {
        guard let cursor = ctx.scanCursor(args[1]),
              let o = ScanOptions.parse(ctx, args, from: 2, accepting: .type) else { return }
        var found = BulkList()
        let next = ctx.keyspace.scanKeys(db: ctx.client.db, from: cursor, o, now: ctx.now, locked: ctx.holdsAllShards) {
            found.append($0)
        }
        ctx.replyScan(next: next, found)
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
