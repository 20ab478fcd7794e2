import RESP
import Store

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH (multi.c). EXEC runs the queue with the shards of all its
/// keys (and of the watched keys) locked, so no other client sees part of a transaction. The
/// keys come from the queued commands' key specs as each is queued; a transaction holding a
/// command that declares none (DBSIZE, FLUSHALL, TAG.INVALIDATE, PING...) or runs a script (EVAL:
/// a script may touch any key) locks every shard.
/// Locking only its own shards keeps a transaction on two keys from taking all 64 locks (the
/// cost that made EXEC of 5 commands 1.5x Redis's CPU) and from stalling the other loops.
public enum TransactionCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.multi, multi),
        CommandSpec(.exec, exec),
        CommandSpec(.discard, discard),
        CommandSpec(.watch, watch),
        CommandSpec(.unwatch, { ctx, _ in unwatchAll(ctx); ctx.reply.ok() }),
    ]

    static func multi(_ ctx: CommandContext, _ args: Arguments) {
        if ctx.client.multi != nil {
            ctx.reply.error("ERR MULTI calls can not be nested")
            return
        }
        ctx.client.beginMulti()
        ctx.reply.ok()
    }

    static func discard(_ ctx: CommandContext, _ args: Arguments) {
        if ctx.client.multi == nil {
            ctx.reply.error("ERR DISCARD without MULTI")
            return
        }
        discardTransaction(ctx)
        ctx.reply.ok()
    }

    /// Leaves MULTI and forgets watched keys (DISCARD, RESET, EXEC's end).
    public static func discardTransaction(_ ctx: CommandContext) {
        ctx.client.endMulti()
        unwatchAll(ctx)
    }

    static func exec(_ ctx: CommandContext, _ args: Arguments) {
        guard let m = ctx.client.multi else {
            ctx.reply.error("ERR EXEC without MULTI")
            return
        }
        if m.dirty {
            discardTransaction(ctx)
            ctx.reply.error("EXECABORT Transaction discarded because of previous errors.")
            return
        }
        if ctx.holdsShardLocks {
            // Already inside locks that cover it (EXEC does not nest; kept for callers that
            // hold every shard).
            runQueue(ctx, m)
            return
        }
        let ks = ctx.keyspace
        if m.allShards {
            ks.lockAll()
            ctx.holdsAllShards = true
        } else {
            ks.withShardSet { set in
                for i in m.shards { set.insert(i) }
                for w in ctx.client.watched { w.key.withUnsafeBufferPointer { ks.insert($0, into: set) } }
                ks.lock(set)
                ctx.holdsShardLocks = true
                runQueue(ctx, m)
                ctx.holdsShardLocks = false
                ks.unlock(set)
            }
            return
        }
        ctx.holdsShardLocks = true
        runQueue(ctx, m)
        ctx.holdsShardLocks = false
        ctx.holdsAllShards = false
        ks.unlockAll()
    }

    /// Records the shards a queued command's keys fall in, or that it needs them all.
    static func noteShards(of spec: CommandSpec, _ args: Arguments, in m: MultiState, keyspace ks: Keyspace) {
        if m.allShards { return }
        if spec.runsScripts {
            m.allShards = true
            m.shards = []
            return
        }
        if let r = spec.keyRange {
            let last = r.last < 0 ? args.count + r.last : r.last
            if r.first <= last && last < args.count {
                for i in stride(from: r.first, through: last, by: r.step) { m.shards.append(ks.shardIndex(ks.hash(args[i]))) }
                return
            }
        }
        let specs = spec.described.keySpecs
        guard !specs.isEmpty, specs.allSatisfy(\.findsEveryKey),
              let keys = KeySpec.keys(specs, argc: args.count, { args[$0] }), !keys.isEmpty else {
            m.allShards = true
            m.shards = []
            return
        }
        for (i, _) in keys { m.shards.append(ks.shardIndex(ks.hash(args[i]))) }
    }

    /// EXEC's body, with the transaction's shards locked.
    private static func runQueue(_ ctx: CommandContext, _ m: MultiState) {
        _ = ctx.client.leaveMulti()
        defer { ctx.client.recycle(m) }
        if watchedKeysChanged(ctx) {
            unwatchAllLocked(ctx)
            ctx.reply.nullArray()
            return
        }
        unwatchAllLocked(ctx)
        let execSpec = ctx.current
        ctx.reply.array(m.count)
        m.forEach { spec, a in Dispatcher.call(ctx, spec, a) }
        ctx.current = execSpec
    }

    /// True when a watched key was written, or has logically expired, since WATCH.
    static func watchedKeysChanged(_ ctx: CommandContext) -> Bool {
        let ks = ctx.keyspace
        let now = ks.clock.nowMs()
        return ctx.client.watched.contains { ks.watchedKeyChanged(db: $0.db, key: $0.key, version: $0.version, now: now) }
    }

    static func watch(_ ctx: CommandContext, _ args: Arguments) {
        if ctx.client.multi != nil {
            ctx.reply.error("ERR WATCH inside MULTI is not allowed")
            return
        }
        for i in 1..<args.count {
            let key = args[i]
            let db = ctx.client.db
            if ctx.client.watched.contains(where: { $0.db == db && $0.key.withUnsafeBufferPointer { $0.equals(key) } }) {
                continue
            }
            ctx.withKey(key) { k in
                // An already expired key is removed first, so its removal is not a change.
                _ = k.find()
                let version = k.shard.watch(db: db, key: Array(key))
                ctx.client.watched.append(WatchedKey(db: db, key: Array(key), version: version))
            }
        }
        ctx.reply.ok()
    }

    /// Forgets every watched key of the client (UNWATCH, EXEC, DISCARD, RESET, disconnect).
    public static func unwatchAll(_ ctx: CommandContext) {
        if ctx.client.watched.isEmpty { return }
        if ctx.holdsShardLocks {
            unwatchAllLocked(ctx)
            return
        }
        let ks = ctx.keyspace
        for w in ctx.client.watched {
            let h = w.key.withUnsafeBufferPointer { ks.hash($0) }
            let shard = ks.shards[ks.shardIndex(h)]
            shard.lock()
            shard.unwatch(db: w.db, key: w.key)
            shard.unlock()
        }
        ctx.client.watched.removeAll()
    }

    static func unwatchAllLocked(_ ctx: CommandContext) {
        let ks = ctx.keyspace
        for w in ctx.client.watched {
            let h = w.key.withUnsafeBufferPointer { ks.hash($0) }
            ks.shards[ks.shardIndex(h)].unwatch(db: w.db, key: w.key)
        }
        ctx.client.watched.removeAll()
    }
}
