import Lua
import RESP
import Store

/// FCALL, FCALL_RO and FUNCTION (Redis 7.0's functions.c), on the functions engine's own Lua
/// state. FUNCTION DUMP and RESTORE are not offered yet.
public enum FunctionCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.fcall) { ctx, args in fcall(ctx, args, readOnly: false) },
        CommandSpec(.fcallRo) { ctx, args in fcall(ctx, args, readOnly: true) },
        CommandSpec(.function, subcommands: [
            CommandSpec(.functionLoad, load),
            CommandSpec(.functionList, list),
            CommandSpec(.functionDelete, delete),
            CommandSpec(.functionFlush, flush),
            CommandSpec(.functionStats, stats),
            CommandSpec(.functionKill, kill),
            CommandSpec(.functionHelp) { ctx, _ in ConnectionCommands.help(ctx, helpLines) },
        ]),
    ]

    static func fcall(_ ctx: CommandContext, _ args: Arguments, readOnly: Bool) {
        let engine = ctx.server.scripts
        if let u = engine.unavailable {
            ctx.reply.error(u)
            return
        }
        let outOfMemory = ctx.keyspace.maxmemory.load(ordering: .relaxed) != 0 && ctx.keyspace.evictIfNeeded() == .failed
        ctx.withAllShards {
            engine.lock.withLock { s in
                guard let f = s.functions.function(args[1].string) else {
                    ctx.reply.error("ERR Function not found")
                    return
                }
                guard let numkeys = args[2].redisInteger else {
                    ctx.reply.error("ERR Bad number of keys provided")
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
                if !f.flags.contains(.noWrites) && readOnly {
                    ctx.reply.error("ERR Can not execute a script with write flag using *_ro command.")
                    return
                }
                if outOfMemory && !f.flags.contains(.allowOOM) && !f.flags.contains(.noWrites) {
                    ctx.reply.error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
                    return
                }
                guard let vm = engine.functionVM(s) else { return }
                let run = ScriptCommands.prepare(ctx, vm, flags: f.flags, readOnly: readOnly || f.flags.contains(.noWrites),
                                                 outOfMemory: outOfMemory, name: f.name)
                run.isEval = false
                let command = (0..<args.count).map { Array(args[$0]) }
                engine.runningFunction.withLock { $0 = (f.name, command, run.startUs) }
                let mark = ctx.counters.errorMark
                vm.runFunction(run, f, keys: args, from: 3, count: numkeys)
                ctx.counters.errorMark = mark
                engine.runningFunction.withLock { $0 = nil }
                engine.publish(s)
            }
        }
    }

    static let invalidName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    static func load(_ ctx: CommandContext, _ args: Arguments) {
        var replace = false
        var i = 2
        while i < args.count - 1 {
            if args[i].cString.equalsIgnoringCase("replace") {
                replace = true
                i += 1
                continue
            }
            ctx.reply.error("ERR Unknown option given: \(args[i].cString.string)")
            return
        }
        if i >= args.count {
            ctx.reply.error("ERR Function code is missing")
            return
        }
        let engine = ctx.server.scripts
        if let u = engine.unavailable {
            ctx.reply.error(u)
            return
        }
        let code = Array(args[i])
        guard code.count >= 2, code[0] == 35, code[1] == 33 else {
            ctx.reply.error("ERR Missing library metadata")
            return
        }
        guard let newline = code.firstIndex(of: 10), let parts = ScriptFlags.splitArguments(code[0..<newline]), !parts.isEmpty else {
            ctx.reply.error("ERR Invalid library metadata")
            return
        }
        let engineName = String(parts[0].dropFirst(2))
        var name: String?
        for p in parts.dropFirst() {
            if p.lowercased().hasPrefix("name=") {
                if name != nil {
                    ctx.reply.error("ERR Invalid metadata value, name argument was given multiple times")
                    return
                }
                name = String(p.dropFirst(5))
                continue
            }
            ctx.reply.error("ERR Invalid metadata value given: \(p)")
            return
        }
        guard let name else {
            ctx.reply.error("ERR Library name was not given")
            return
        }
        guard validName(name) else {
            ctx.reply.error(invalidName)
            return
        }
        guard engineName.lowercased() == "lua" else {
            ctx.reply.error("ERR Engine '\(engineName)' not found")
            return
        }
        let result: Result<String, ScriptError> = engine.lock.withLock { s in
            let old = s.functions.library(name)
            if old != nil && !replace { return .failure(ScriptError("ERR Library '\(name)' already exists")) }
            guard let vm = engine.functionVM(s) else { return .failure(ScriptError(engine.unavailable ?? "ERR scripting is unavailable")) }
            switch vm.loadLibrary(code[newline...]) {
            case let .failure(e):
                return .failure(e)
            case let .success(fns):
                if fns.isEmpty { return .failure(ScriptError("ERR No functions registered")) }
                for f in fns {
                    if let at = s.functions.byName[f.name.lowercased()], at.library != old {
                        vm.release(fns)
                        return .failure(ScriptError("ERR Function \(f.name) already exists"))
                    }
                }
                if let o = old {
                    vm.release(s.functions.libraries[o].functions)
                    s.functions.libraries.remove(at: o)
                }
                s.functions.libraries.append(FunctionLibrary(name: name, code: code, functions: fns))
                s.functions.rebuildIndex()
                engine.publish(s)
                return .success(name)
            }
        }
        switch result {
        case let .success(n): ctx.reply.bulk(string: n)
        case let .failure(e): ctx.reply.error(e.message)
        }
    }

    static func list(_ ctx: CommandContext, _ args: Arguments) {
        var withCode = false
        var pattern: [UInt8]?
        var i = 2
        while i < args.count {
            let a = args[i].cString
            if !withCode && a.equalsIgnoringCase("withcode") {
                withCode = true
            } else if pattern == nil && a.equalsIgnoringCase("libraryname") {
                if i >= args.count - 1 {
                    ctx.reply.error("ERR library name argument was not given")
                    return
                }
                i += 1
                pattern = Array(args[i])
            } else {
                ctx.reply.error("ERR Unknown argument \(a.string)")
                return
            }
            i += 1
        }
        let engine = ctx.server.scripts
        let libraries = engine.lock.withLock { s in
            s.functions.libraries.filter { lib in
                guard let p = pattern else { return true }
                return GlobPattern.matches(pattern: p, Array(lib.name.utf8), ignoreCase: true)
            }
        }
        let r = ctx.reply
        r.array(libraries.count)
        for lib in libraries {
            r.map(withCode ? 4 : 3)
            r.bulk(string: "library_name")
            r.bulk(string: lib.name)
            r.bulk(string: "engine")
            r.bulk(string: "LUA")
            r.bulk(string: "functions")
            r.array(lib.functions.count)
            for f in lib.functions {
                r.map(3)
                r.bulk(string: "name")
                r.bulk(string: f.name)
                r.bulk(string: "description")
                if let d = f.description { r.bulk(d) } else { r.null() }
                r.bulk(string: "flags")
                let names = ScriptFlags.names.filter { f.flags.contains($0.1) }
                r.set(names.count)
                for (n, _) in names { r.simple(string: n) }
            }
            if withCode {
                r.bulk(string: "library_code")
                r.bulk(lib.code)
            }
        }
    }

    static func delete(_ ctx: CommandContext, _ args: Arguments) {
        let engine = ctx.server.scripts
        let name = args[2].string
        let found: Bool = engine.lock.withLock { s in
            guard let at = s.functions.library(name) else { return false }
            s.functionVM?.release(s.functions.libraries[at].functions)
            s.functions.libraries.remove(at: at)
            s.functions.rebuildIndex()
            engine.publish(s)
            return true
        }
        if found { ctx.reply.ok() } else { ctx.reply.error("ERR Library not found") }
    }

    static func flush(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 3 {
            ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '\(Dispatcher.truncate(args[1].string, 128))'. Try FUNCTION HELP.")
            return
        }
        if args.count == 3 && !args[2].equalsIgnoringCase("sync") && !args[2].equalsIgnoringCase("async") {
            ctx.reply.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            return
        }
        let engine = ctx.server.scripts
        let old: ScriptVM? = engine.lock.withLock { s in
            let v = s.functionVM
            s.functionVM = nil
            s.functions = FunctionRegistry()
            engine.publish(s)
            return v
        }
        // The old state is closed here, outside the lock.
        _ = old
        ctx.reply.ok()
    }

    static func stats(_ ctx: CommandContext, _ args: Arguments) {
        let engine = ctx.server.scripts
        if engine.running.load(ordering: .relaxed) == 1 {
            ctx.reply.error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            return
        }
        let r = ctx.reply
        r.map(2)
        r.bulk(string: "running_script")
        if let (name, command, start) = engine.runningFunction.withLock({ $0 }) {
            r.map(3)
            r.bulk(string: "name")
            r.bulk(string: name)
            r.bulk(string: "command")
            r.array(command.count)
            for a in command { r.bulk(a) }
            r.bulk(string: "duration_ms")
            r.integer(Int((monotonicUs() - start) / 1000))
        } else {
            r.null()
        }
        let m = engine.functionMemory
        r.bulk(string: "engines")
        r.map(1)
        r.bulk(string: "LUA")
        r.map(2)
        r.bulk(string: "libraries_count")
        r.integer(m.libraries)
        r.bulk(string: "functions_count")
        r.integer(m.functions)
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
        if running == 1 {
            ctx.reply.error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            return
        }
        engine.killRequested.store(true, ordering: .relaxed)
        ctx.reply.ok()
    }

    /// Redis's help, without DUMP and RESTORE (not offered yet).
    static let helpLines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "HELP",
        "    Prints this help.",
    ]
}
