import Lua
import RESP
import Store

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis 7.0's eval.c), on ScriptEngine.
public enum ScriptCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.eval) { ctx, args in eval(ctx, args, bySHA: false, readOnly: false) },
        CommandSpec(.evalsha) { ctx, args in eval(ctx, args, bySHA: true, readOnly: false) },
        CommandSpec(.evalRo) { ctx, args in eval(ctx, args, bySHA: false, readOnly: true) },
        CommandSpec(.evalshaRo) { ctx, args in eval(ctx, args, bySHA: true, readOnly: true) },
        CommandSpec(.script, subcommands: [
            CommandSpec(.scriptLoad, load),
            CommandSpec(.scriptExists, exists),
            CommandSpec(.scriptFlush, flush),
            CommandSpec(.scriptKill, kill),
            CommandSpec(.scriptDebug, debug),
            CommandSpec(.scriptHelp) { ctx, _ in ConnectionCommands.help(ctx, helpLines) },
        ]),
    ]

    static let noScript = "NOSCRIPT No matching script. Please use EVAL."

    static func eval(_ ctx: CommandContext, _ args: Arguments, bySHA: Bool, readOnly: Bool) {
        if bySHA && args[1].count != 40 {
            ctx.reply.error(noScript)
            return
        }
        guard let numkeys = args[2].redisInteger else {
            ctx.notInteger()
            return
        }
        if numkeys > args.count - 3 {
            ctx.reply.error("ERR Number of keys can't be greater than number of args")
            return
        }
        if numkeys < 0 {
            ctx.reply.error("ERR Number of keys can't be negative")
            return
        }
        let engine = ctx.server.scripts
        if let u = engine.unavailable {
            ctx.reply.error(u)
            return
        }
        let outOfMemory = ctx.keyspace.maxmemory.load(ordering: .relaxed) != 0 && ctx.keyspace.evictIfNeeded() == .failed
        ctx.withScriptShards {
            engine.lock.withLock { s in
                guard let sha = bySHA ? ScriptSHA(args[1]) : ScriptSHA(SHA1.hex(args[1])) else {
                    ctx.reply.error(noScript)
                    return
                }
                if s.scripts[sha] == nil {
                    if bySHA {
                        ctx.reply.error(noScript)
                        return
                    }
                    if case let .failure(e) = engine.load(s, Array(args[1]), sha: sha, byEval: true) {
                        ctx.reply.error(e.message)
                        return
                    }
                }
                guard let script = s.scripts[sha], let vm = engine.vm(s) else { return }
                if script.byEval {
                    s.evalTick &+= 1
                    s.evalScripts[sha] = s.evalTick
                }
                let flags = script.flags
                if !flags.contains(.evalCompat) {
                    if !flags.contains(.noWrites) && readOnly {
                        ctx.reply.error("ERR Can not execute a script with write flag using *_ro command.")
                        return
                    }
                    if outOfMemory && !flags.contains(.allowOOM) && !flags.contains(.noWrites) {
                        ctx.reply.error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
                        return
                    }
                }
                let run = prepare(ctx, vm, flags: flags, readOnly: readOnly || (!flags.contains(.evalCompat) && flags.contains(.noWrites)),
                                  outOfMemory: outOfMemory, name: .sha(sha))
                let mark = ctx.counters.errorMark
                vm.runEval(run, script: script.ref, keys: args, from: 3, count: numkeys)
                ctx.counters.errorMark = mark
                engine.publish(s)
            }
        }
    }

    /// The run of a script for the caller: its client's context set to the caller's database,
    /// RESP2, and the caller's error counting.
    static func prepare(_ ctx: CommandContext, _ vm: ScriptVM, flags: ScriptFlags, readOnly: Bool, outOfMemory: Bool,
                        name: ScriptRun.Name) -> ScriptRun {
        let sc = vm.scriptContext(for: ctx)
        sc.client.db = ctx.client.db
        sc.reply.protocolVersion = 2
        sc.reply.errorObserver = ctx.reply.errorObserver
        sc.reply.out.clear()
        sc.now = ctx.now
        sc.maxStringLength = ctx.maxStringLength
        return ScriptRun(caller: ctx, ctx: sc, flags: flags, readOnly: readOnly, outOfMemory: outOfMemory, name: name)
    }

    static func load(_ ctx: CommandContext, _ args: Arguments) {
        let engine = ctx.server.scripts
        if let u = engine.unavailable {
            ctx.reply.error(u)
            return
        }
        switch engine.lock.withLock({ engine.load($0, Array(args[2])) }) {
        case let .success(sha): ctx.reply.bulk(sha.hex)
        case let .failure(e): ctx.reply.error(e.message)
        }
    }

    static func exists(_ ctx: CommandContext, _ args: Arguments) {
        let engine = ctx.server.scripts
        let found: [Bool] = engine.lock.withLock { s in
            (2..<args.count).map { i in ScriptSHA(args[i]).map { s.scripts[$0] != nil } ?? false }
        }
        ctx.reply.array(found.count)
        for f in found { ctx.reply.integer(f ? 1 : 0) }
    }

    static func flush(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 3 || (args.count == 3 && !args[2].equalsIgnoringCase("sync") && !args[2].equalsIgnoringCase("async")) {
            ctx.reply.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            return
        }
        ctx.server.scripts.flush()
        ctx.reply.ok()
    }

    static func kill(_ ctx: CommandContext, _ args: Arguments) {
        let engine = ctx.server.scripts
        let running = engine.running.load(ordering: .relaxed)
        if running == 0 {
            ctx.reply.error("NOTBUSY No scripts in execution right now.")
            return
        }
        if engine.wroteSomething.load(ordering: .relaxed) {
            ctx.reply.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            return
        }
        if running == 2 {
            ctx.reply.error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
            return
        }
        engine.killRequested.store(true, ordering: .relaxed)
        ctx.reply.ok()
    }

    /// SCRIPT DEBUG: Lua's step debugger (LDB) is not offered; NO (leave debugging) is accepted.
    static func debug(_ ctx: CommandContext, _ args: Arguments) {
        if args[2].equalsIgnoringCase("no") {
            ctx.reply.ok()
        } else if args[2].equalsIgnoringCase("yes") || args[2].equalsIgnoringCase("sync") {
            ctx.reply.error("ERR SCRIPT DEBUG is not supported by TagCache (the Lua debugger is not offered)")
        } else {
            ctx.reply.error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
        }
    }

    static let helpLines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ]
}
