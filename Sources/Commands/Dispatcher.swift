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
        // A script past busy-reply-threshold holds the keyspace: only the commands flagged
        // allow-busy run (SCRIPT KILL, SHUTDOWN NOSAVE, MULTI...). Checked before eviction,
        // which a busy script's loop must not start.
        if _slowPath(ctx.keyspace.busyScript.load(ordering: .relaxed) != 0), !spec.flags.contains(.allowBusy) {
            ctx.counters.recordRejected(spec.id)
            reject(ctx, busyError(ctx), spec: spec)
            return
        }
        // maxmemory, where Redis's processCommand checks it: evict first; when nothing could be
        // evicted, refuse what may grow memory (and anything queued inside MULTI).
        if ctx.keyspace.maxmemory.load(ordering: .relaxed) != 0, ctx.keyspace.evictIfNeeded() == .failed,
           rejectedWhenOutOfMemory(spec, client) {
            ctx.counters.recordRejected(spec.id)
            reject(ctx, "OOM command not allowed when used memory > 'maxmemory'.", spec: spec)
            return
        }
        if let m = client.multi {
            if spec.flags.contains(.noMulti) {
                ctx.counters.recordRejected(spec.id)
                reject(ctx, "ERR Command not allowed inside a transaction", spec: spec)
                return
            }
            if !spec.runsInsideMulti {
                client.multiBytes += m.append(spec, args)
                TransactionCommands.noteShards(of: spec, args, in: m, keyspace: ctx.keyspace)
                client.multiQueued = m.count
                ctx.reply.queued()
                return
            }
        }
        call(ctx, spec, args)
        // Pushes made keys ready for blocked clients: serve them now that the command (or a
        // whole EXEC) is done, as Redis's handleClientsBlockedOnKeys does.
        let ks = ctx.keyspace
        if ks.readySignal.pending.load(ordering: .relaxed) > 0 { BlockingCommands.serveReadyKeys(ks) }
    }

    /// The -BUSY error for the script that holds the keyspace.
    static func busyError(_ ctx: CommandContext) -> String {
        ctx.keyspace.busyScript.load(ordering: .relaxed) == 2
            ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    }

    /// Whether a command is refused while memory is over maxmemory and nothing can be evicted:
    /// commands flagged denyoom, EXEC of a transaction holding one, and every command queued
    /// inside MULTI but EXEC, DISCARD, QUIT and RESET.
    static func rejectedWhenOutOfMemory(_ spec: CommandSpec, _ client: ClientState) -> Bool {
        if spec.flags.contains(.denyoom) { return true }
        let top = spec.parent ?? spec
        guard let m = client.multi else { return false }
        switch top.name {
        case "exec": return m.specs.contains { $0.flags.contains(.denyoom) }
        case "discard", "quit", "reset": return false
        default: return true
        }
    }

    /// Calls a resolved command and records its statistics. The command's time (ctx.now) is
    /// set by the caller once per batch of pipelined requests: reading the clock per command
    /// was ~9% of pipelined SET; durations use the CPU tick counter for the same reason. What a
    /// call costs the statistics: the counters and a latency bucket (plain stores in this
    /// loop's memory), one comparison with the slow log threshold, and the key prefixes the
    /// command read, handed to the loop's sketch here, after the shard locks are released.
    @inline(__always)
    public static func call(_ ctx: CommandContext, _ spec: CommandSpec, _ args: Arguments) {
        ctx.current = spec
        ctx.client.lastCommandId = spec.id
        let counters = ctx.counters
        // An error counts against the innermost command that was running when it was replied
        // (Redis's incrCommandStatsOnError): EXEC fails only for its own errors, not for those
        // of the commands it ran, which mark the errors they saw.
        counters.errorMark = ctx.reply.errorCount
        let t0 = tc_ticks()
        spec.handler(ctx, args)
        let ticks = tc_ticks() &- t0
        counters.recordCall(spec.id, ticks: ticks)
        let errors = ctx.reply.errorCount
        if errors > counters.errorMark { counters.recordFailed(spec.id) }
        counters.errorMark = errors
        counters.add(.commandsProcessed, 1)
        if counters.pendingReads != 0 { counters.flushKeyReads() }
        if ticks >= counters.slowlogThresholdTicks { logSlow(ctx, spec, args, ticks: ticks) }
    }

    /// Adds a command to the slow log (Redis's slowlogPushCurrentCommand), unless its flags
    /// keep it out (EXEC: the commands it runs are logged one by one).
    @inline(never)
    static func logSlow(_ ctx: CommandContext, _ spec: CommandSpec, _ args: Arguments, ticks: UInt64) {
        if spec.flags.contains(.skipSlowlog) || (spec.parent?.flags.contains(.skipSlowlog) ?? false) { return }
        let client = ctx.client
        ctx.counters.slowlog.push(arguments: Slowlog.loggedArguments(spec, args, secret: ctx.server.isSecretDirective),
                                  microseconds: Int(Double(ticks) / LoopCounters.ticksPerMicrosecond),
                                  time: Int(ctx.keyspace.clock.nowMs() / 1000), peer: client.address,
                                  clientName: client.name)
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
