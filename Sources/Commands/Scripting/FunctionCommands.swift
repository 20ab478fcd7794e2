import Lua
import RESP
import Store

/// FCALL, FCALL_RO and FUNCTION (Redis 7.0's functions.c), on the functions engine's own Lua
/// state.
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
            CommandSpec(.functionDump, dump),
            CommandSpec(.functionRestore, restore),
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
        ctx.withScriptShards {
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
                                                 outOfMemory: outOfMemory, name: .function(f.name))
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
        let result: Result<String, ScriptError> = engine.lock.withLock { s in
            guard let vm = engine.functionVM(s) else { return .failure(ScriptError(engine.unavailable ?? "ERR scripting is unavailable")) }
            defer { engine.publish(s) }
            return createLibrary(code, replace: replace, in: &s.functions, vm: vm)
        }
        switch result {
        case let .success(n): ctx.reply.bulk(string: n)
        case let .failure(e): ctx.reply.error(e.message)
        }
    }

    /// functionsCreateWithLibraryCtx: reads the library's metadata, runs its code, and links it
    /// into `registry` (replacing a library of the same name when `replace`). Returns its name.
    static func createLibrary(_ code: [UInt8], replace: Bool, in registry: inout FunctionRegistry,
                              vm: ScriptVM) -> Result<String, ScriptError> {
        guard code.count >= 2, code[0] == 35, code[1] == 33 else { return .failure(ScriptError("ERR Missing library metadata")) }
        guard let newline = code.firstIndex(of: 10), let parts = ScriptFlags.splitArguments(code[0..<newline]), !parts.isEmpty else {
            return .failure(ScriptError("ERR Invalid library metadata"))
        }
        let engineName = String(parts[0].dropFirst(2))
        var name: String?
        for p in parts.dropFirst() {
            if p.lowercased().hasPrefix("name=") {
                if name != nil { return .failure(ScriptError("ERR Invalid metadata value, name argument was given multiple times")) }
                name = String(p.dropFirst(5))
                continue
            }
            return .failure(ScriptError("ERR Invalid metadata value given: \(p)"))
        }
        guard let name else { return .failure(ScriptError("ERR Library name was not given")) }
        guard validName(name) else { return .failure(ScriptError(invalidName)) }
        guard engineName.lowercased() == "lua" else { return .failure(ScriptError("ERR Engine '\(engineName)' not found")) }
        let old = registry.library(name)
        if old != nil && !replace { return .failure(ScriptError("ERR Library '\(name)' already exists")) }
        switch vm.loadLibrary(code[newline...]) {
        case let .failure(e):
            return .failure(e)
        case let .success(fns):
            if fns.isEmpty { return .failure(ScriptError("ERR No functions registered")) }
            for f in fns {
                if let at = registry.byName[f.name.lowercased()], at.library != old {
                    vm.release(fns)
                    return .failure(ScriptError("ERR Function \(f.name) already exists"))
                }
            }
            if let o = old {
                vm.release(registry.libraries[o].functions)
                registry.libraries.remove(at: o)
            }
            registry.libraries.append(FunctionLibrary(name: name, code: code, functions: fns))
            registry.rebuildIndex()
            return .success(name)
        }
    }

    /// FUNCTION DUMP: every library's code in Redis's serialization (FUNCTION RESTORE reads it
    /// here and in Redis 7.0).
    static func dump(_ ctx: CommandContext, _ args: Arguments) {
        let libraries = ctx.server.scripts.lock.withLock { $0.functions.libraries }
        var payload: [UInt8] = []
        for lib in libraries {
            payload.append(RDBPayload.functionOpcode)
            RDBPayload.appendString(lib.code, to: &payload)
        }
        RDBPayload.appendFooter(to: &payload)
        ctx.reply.bulk(payload)
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all of the payload's libraries or none.
    static func restore(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 4 {
            ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '\(Dispatcher.truncate(args[1].string, 128))'. Try FUNCTION HELP.")
            return
        }
        enum Policy { case append, replace, flush }
        var policy = Policy.append
        if args.count == 4 {
            let p = args[3].cString
            if p.equalsIgnoringCase("append") { policy = .append }
            else if p.equalsIgnoringCase("replace") { policy = .replace }
            else if p.equalsIgnoringCase("flush") { policy = .flush }
            else {
                ctx.reply.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
                return
            }
        }
        let data = Array(args[2])
        guard RDBPayload.verify(data) else {
            ctx.reply.error("ERR DUMP payload version or checksum are wrong")
            return
        }
        var codes: [[UInt8]] = []
        var pos = 0
        while data.count - pos > 10 {
            let type = data[pos]
            pos += 1
            if type != RDBPayload.functionOpcode && type != RDBPayload.oldFunctionOpcode {
                ctx.reply.error("ERR given type is not a function")
                return
            }
            if type == RDBPayload.oldFunctionOpcode {
                // 7.0's release candidates: name, engine, an optional description, the code.
                guard let name = RDBPayload.readString(data, &pos) else { return fail(ctx, "ERR Failed loading library name") }
                guard let engine = RDBPayload.readString(data, &pos) else { return fail(ctx, "ERR Failed loading engine name") }
                guard let (hasDescription, _) = RDBPayload.readLength(data, &pos) else {
                    return fail(ctx, "ERR Failed loading library description indicator")
                }
                if hasDescription != 0 && RDBPayload.readString(data, &pos) == nil { return fail(ctx, "ERR Failed loading library description") }
                guard let blob = RDBPayload.readString(data, &pos) else { return fail(ctx, "ERR Failed loading library blob") }
                codes.append(Array("#!".utf8) + engine + Array(" name=".utf8) + name + [10] + blob)
            } else {
                guard let code = RDBPayload.readString(data, &pos) else { return fail(ctx, "ERR Failed loading library payload") }
                codes.append(code)
            }
        }
        let engine = ctx.server.scripts
        if let u = engine.unavailable {
            ctx.reply.error(u)
            return
        }
        let error: String? = engine.lock.withLock { s in
            guard let vm = engine.functionVM(s) else { return engine.unavailable }
            var restored = FunctionRegistry()
            for code in codes {
                if case let .failure(e) = createLibrary(code, replace: false, in: &restored, vm: vm) {
                    for lib in restored.libraries { vm.release(lib.functions) }
                    return e.message
                }
            }
            defer { engine.publish(s) }
            if policy == .flush {
                for lib in s.functions.libraries { vm.release(lib.functions) }
                s.functions = restored
                return nil
            }
            // libraryJoin: a library already there fails the restore unless REPLACE; no function
            // may collide with one of the libraries that stay.
            var replaced = Set<Int>()
            for lib in restored.libraries {
                guard let at = s.functions.library(lib.name) else { continue }
                if policy != .replace {
                    for l in restored.libraries { vm.release(l.functions) }
                    return "ERR Library \(lib.name) already exists"
                }
                replaced.insert(at)
            }
            for lib in restored.libraries {
                for f in lib.functions {
                    if let at = s.functions.byName[f.name.lowercased()], !replaced.contains(at.library) {
                        for l in restored.libraries { vm.release(l.functions) }
                        return "ERR Function \(f.name) already exists"
                    }
                }
            }
            for at in replaced.sorted(by: >) {
                vm.release(s.functions.libraries[at].functions)
                s.functions.libraries.remove(at: at)
            }
            s.functions.libraries += restored.libraries
            s.functions.rebuildIndex()
            return nil
        }
        if let error { ctx.reply.error(error) } else { ctx.reply.ok() }
    }

    private static func fail(_ ctx: CommandContext, _ message: String) { ctx.reply.error(message) }

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

    /// Redis's help.
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
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]
}
