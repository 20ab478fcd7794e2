import CTagCacheSys
import RESP
import Store

/// Runs one parsed request the way Redis's processCommand does: resolve the name, check arity
/// and auth, queue inside MULTI, call the handler, count it.
public enum Dispatcher {
    /// Executes args for ctx's client, appending the reply to ctx.reply.
    public static func execute(_ ctx: CommandContext, _ args: Arguments) {
        let table = ctx.table
        guard var spec = table.lookup(args[0]) else {
            rejectUnknown(ctx, args)
            return
        }
        if !spec.subcommands.isEmpty && args.count >= 2 {
            guard let sub = spec.subcommand(args[1]) else {
                reject(ctx, "ERR unknown subcommand '\(truncate(args[1].string, 128))'. Try \(spec.name.uppercased()) HELP.")
                return
            }
            spec = sub
        }
        if !spec.arityAccepts(args.count) {
            ctx.counters.recordRejected(spec.id)
            reject(ctx, "ERR wrong number of arguments for '\(spec.fullName)' command", spec: spec)
            return
        }
        let client = ctx.client
        if !client.authenticated && !spec.flags.contains(.noAuth) && ctx.server.requirePass != nil {
            ctx.counters.recordRejected(spec.id)
            reject(ctx, "NOAUTH Authentication required.", spec: spec)
            return
        }
        if let m = client.multi {
            if spec.flags.contains(.noMulti) {
                ctx.counters.recordRejected(spec.id)
                reject(ctx, "ERR Command not allowed inside a transaction", spec: spec)
                return
            }
            if !TransactionCommands.runsInsideMulti(spec) {
                let owned = args.copy()
                m.queue.append((spec, owned))
                client.multiQueued = m.queue.count
                client.multiBytes += owned.values.reduce(0) { $0 + $1.count }
                ctx.reply.queued()
                return
            }
        }
        call(ctx, spec, args)
    }

    /// Calls a resolved command and records its statistics. The command's time (ctx.now) is
    /// set by the caller once per batch of pipelined requests: reading the clock per command
    /// was ~9% of pipelined SET; durations use the CPU tick counter for the same reason.
    @inline(__always)
    public static func call(_ ctx: CommandContext, _ spec: CommandSpec, _ args: Arguments) {
        ctx.current = spec
        ctx.client.lastCommandId = spec.id
        let errorsBefore = ctx.reply.errorCount
        let t0 = tc_ticks()
        spec.handler(ctx, args)
        let t1 = tc_ticks()
        ctx.counters.recordCall(spec.id, ticks: t1 &- t0)
        if ctx.reply.errorCount != errorsBefore { ctx.counters.recordFailed(spec.id) }
        ctx.counters.add(.commandsProcessed, 1)
    }

    static func rejectUnknown(_ ctx: CommandContext, _ args: Arguments) {
        var list = ""
        var i = 1
        while i < args.count && list.utf8.count < 128 {
            let room = 128 - list.utf8.count
            list += "'\(truncate(args[i].string, room))' "
            i += 1
        }
        reject(ctx, "ERR unknown command '\(truncate(args[0].string, 128))', with args beginning with: \(list)")
    }

    /// An error that aborts a transaction being queued (Redis's rejectCommand). A rejected EXEC
    /// discards the transaction and says why, as Redis's execCommandAbort does.
    static func reject(_ ctx: CommandContext, _ message: String, spec: CommandSpec? = nil) {
        ctx.client.multi?.dirty = true
        if let s = spec, s.name == "exec", s.parent == nil {
            TransactionCommands.discardTransaction(ctx)
            let reason = message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message
            ctx.reply.error("EXECABORT Transaction discarded because of: \(reason)")
            return
        }
        ctx.reply.error(message)
    }

    static func truncate(_ s: String, _ n: Int) -> String {
        let u = Array(s.utf8)
        return u.count <= n ? s : String(decoding: u[0..<n], as: UTF8.self)
    }
}
