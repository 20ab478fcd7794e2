import RESP
import Store

/// KEYS, SCAN, RANDOMKEY and DBSIZE: the commands that walk the whole keyspace, one shard lock
/// at a time (the walks are the keyspace's).
extension KeyCommands {
    // MARK: KEYS SCAN RANDOMKEY DBSIZE

    static func keys(_ ctx: CommandContext, _ args: Arguments) {
        var found = BulkList()
        ctx.keyspace.forEachLiveKey(db: ctx.client.db, matching: args[1], now: ctx.now, locked: ctx.holdsAllShards) {
            found.append($0)
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

    static func randomKey(_ ctx: CommandContext) {
        if let k = ctx.keyspace.randomKey(db: ctx.client.db, now: ctx.now, locked: ctx.holdsAllShards) {
            ctx.reply.bulk(k)
        } else {
            ctx.reply.null()
        }
    }

    /// DBSIZE counts entries, including expired ones not yet removed (as Redis's dictSize does).
    static func dbsize(_ ctx: CommandContext) {
        ctx.reply.integer(ctx.keyspace.keyCount(db: ctx.client.db, locked: ctx.holdsAllShards))
    }
}
