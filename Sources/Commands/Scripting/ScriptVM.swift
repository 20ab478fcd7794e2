import CTagCacheSys
import Lua
import RESP
import Store

/// The script being run: who called it, the script's own client, and what it may do.
final class ScriptRun {
    let caller: CommandContext
    /// The script's client: its own database selection, reply buffer and protocol (setresp).
    let ctx: CommandContext
    let flags: ScriptFlags
    /// EVAL_RO / EVALSHA_RO / FCALL_RO, or a script declaring no-writes.
    let readOnly: Bool
    /// Over maxmemory when the script started (its first write is refused).
    let outOfMemory: Bool
    /// The script's name in errors: the SHA-1 of an EVAL, the function's name for FCALL.
    enum Name {
        case sha(ScriptSHA)
        case function(String)

        var text: String {
            switch self {
            case let .sha(s): String(decoding: s.hex, as: UTF8.self)
            case let .function(f): f
            }
        }
    }
    let name: Name
    var wroteSomething = false
    /// EVAL (SCRIPT KILL stops it) rather than FCALL (FUNCTION KILL).
    var isEval = true
    /// When it started (monotonic µs), and whether it has run past busy-reply-threshold.
    let startUs = monotonicUs()
    var busy = false

    init(caller: CommandContext, ctx: CommandContext, flags: ScriptFlags, readOnly: Bool, outOfMemory: Bool, name: Name) {
        self.caller = caller
        self.ctx = ctx
        self.flags = flags
        self.readOnly = readOnly
        self.outOfMemory = outOfMemory
        self.name = name
    }
}

/// The Lua state with Redis 7.0's scripting environment: the libraries, the `redis` table,
/// the error handler, and a sandbox whose globals cannot be changed. Used only by the thread
/// holding ScriptEngine.lock.
final class ScriptVM {
    let vm: LuaVM
    var lua: LuaState { vm.state }
    private(set) var functions: LuaFunctionTable!
    unowned(unsafe) let engine: ScriptEngine // the engine owns this VM
    /// The running script (set for the duration of a call).
    var run: ScriptRun?
    /// The script client's context for each event loop's counters (scripts count their
    /// commands in the caller's loop, as Redis counts them in commandstats).
    private var contexts: [ObjectIdentifier: CommandContext] = [:]
    /// redis.call's argument views and the text of its number arguments, reused.
    var spans = UnsafeMutableBufferPointer<Bytes>.allocate(capacity: 16)
    var numbers = UnsafeMutablePointer<UInt8>.allocate(capacity: 16 * 32)
    var numbersCapacity = 16
    /// The command that redis.call's checks found (set even when they refuse it).
    var resolved: CommandSpec?

    /// The Swift functions of the `redis` table, by their index in the function table.
    enum Function: Int, CaseIterable {
        case call, pcall, sha1hex, errorReply, statusReply, log, setresp, setRepl, replicateCommands,
             breakpoint, debug, aclCheckCmd, registerFunction

        /// EVAL's `redis` table has them all but register_function; a function's lacks the
        /// debugger's and replicate_commands too (FUNCTION LOAD's has register_function and log).
        func inRedisTable(functions: Bool) -> Bool {
            switch self {
            case .registerFunction: false
            case .breakpoint, .debug, .replicateCommands: !functions
            default: true
            }
        }

        var name: String {
            switch self {
            case .call: "call"
            case .pcall: "pcall"
            case .sha1hex: "sha1hex"
            case .errorReply: "error_reply"
            case .statusReply: "status_reply"
            case .log: "log"
            case .setresp: "setresp"
            case .setRepl: "set_repl"
            case .replicateCommands: "replicate_commands"
            case .breakpoint: "breakpoint"
            case .debug: "debug"
            case .aclCheckCmd: "acl_check_cmd"
            case .registerFunction: "register_function"
            }
        }
    }

    /// Globals a script may see, as Redis 7.0's allow lists name them (anything else the
    /// libraries define, such as print, dofile, loadfile and newproxy, is removed).
    static let allowedGlobals: Set<String> = [
        "string", "cjson", "bit", "cmsgpack", "math", "table", "struct", "redis", "__redis__err__handler",
        "xpcall", "tostring", "getfenv", "setmetatable", "next", "assert", "tonumber", "rawequal",
        "collectgarbage", "getmetatable", "rawset", "pcall", "coroutine", "type", "_G", "select",
        "unpack", "gcinfo", "pairs", "rawget", "loadstring", "ipairs", "_VERSION", "setfenv", "load",
        "error",
    ]

    /// The error handler Redis installs: it adds the script's source and line to the error
    /// (from the caller's frame when a C function raised it), and the `debug` library goes
    /// away once it holds its own reference.
    static func errorHandler(global: Bool) -> String {
        """
        local dbg = debug
        debug = nil
        \(global ? "function __redis__err__handler(err)" : "local error_handler = function (err)")
          local i = dbg.getinfo(2,'nSl')
          if i and i.what == 'C' then
            i = dbg.getinfo(3,'nSl')
          end
          if type(err) ~= 'table' then
            err = {err='ERR ' .. tostring(err)}
          end
          if i then
            err['source'] = i.source
            err['line'] = i.currentline
          end
          return err
        end
        \(global ? "" : "return error_handler")
        """
    }

    /// The functions engine (FUNCTION LOAD, FCALL) rather than EVAL's: a Lua state of its own,
    /// as in Redis.
    let forFunctions: Bool
    /// The library FUNCTION LOAD is running (register_function adds to it), and when it began.
    var loading: LoadingLibrary?
    /// The last reference handed to a registered function (tc_function_refs).
    var nextRef: Int32 = 0

    init?(version: String, engine: ScriptEngine, forFunctions: Bool = false) {
        guard let vm = LuaVM() else { return nil }
        self.vm = vm
        self.engine = engine
        self.forFunctions = forFunctions
        functions = LuaFunctionTable { [unowned self] which, lua in self.call(which, lua) }
        // The count hook finds this object through the registry.
        vm.state.push(lightUserdata: Unmanaged.passUnretained(self).toOpaque())
        vm.state.rawSet(LuaState.registryIndex, field: "tc_vm")
        setUpEnvironment(version: version)
    }

    deinit {
        spans.deallocate()
        numbers.deallocate()
    }

    private func setUpEnvironment(version: String) {
        let lua = self.lua
        lua.newTable()
        for f in Function.allCases where f.inRedisTable(functions: forFunctions) {
            lua.push(function: f.rawValue, of: functions)
            lua.rawSet(-2, field: f.name)
        }
        for (name, value) in [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
            lua.push(Double(value))
            lua.rawSet(-2, field: name)
        }
        addLogAndVersion(version)
        lua.rawSet(LuaState.globalsIndex, field: "redis")
        // The error handler (it also removes `debug`): a global of EVAL's, in the registry for
        // functions.
        let handler = Self.errorHandler(global: !forFunctions)
        Array(handler.utf8).withUnsafeBufferPointer { code in
            if lua.load(code, name: "@err_handler_def"), lua.pcall(arguments: 0, results: forFunctions ? 1 : 0, handler: 0), forFunctions {
                lua.rawSet(LuaState.registryIndex, field: "tc_error_handler")
            }
        }
        lua.setTop(0)
        // Only the allowed globals stay.
        var remove: [[UInt8]] = []
        lua.pushNil()
        while lua.next(LuaState.globalsIndex) {
            lua.pop()
            if lua.type(-1) != .string || !Self.allowedGlobals.contains(lua.toString(-1) ?? "") {
                if let k = lua.toBytes(-1) { remove.append(k) }
            }
        }
        for k in remove {
            lua.push(bytes: k)
            lua.pushNil()
            lua.rawSet(LuaState.globalsIndex)
        }
        vm.protectGlobals()
        lua.setTop(0)
        if forFunctions { setUpLoadAPI(version: version) }
        // The slots every call uses (globalsSlot, handlerSlot, compiledSlot).
        lua.rawGet(LuaState.registryIndex, field: "tc_globals")
        if forFunctions {
            lua.rawGet(LuaState.registryIndex, field: "tc_error_handler")
            lua.rawGet(LuaState.registryIndex, field: "tc_function_refs")
        } else {
            lua.rawGet(Self.globalsSlot, field: "__redis__err__handler")
            lua.newTable()
        }
    }

    /// redis.log, the LOG_* levels and REDIS_VERSION(_NUM), into the table on top.
    func addLogAndVersion(_ version: String) {
        let lua = self.lua
        lua.push(function: Function.log.rawValue, of: functions)
        lua.rawSet(-2, field: "log")
        for (name, value) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
            lua.push(Double(value))
            lua.rawSet(-2, field: name)
        }
        let parts = version.split(separator: ".").map { Int($0) ?? 0 } + [0, 0, 0]
        lua.push(Double(parts[0] << 16 | parts[1] << 8 | parts[2]))
        lua.rawSet(-2, field: "REDIS_VERSION_NUM")
        lua.push(version)
        lua.rawSet(-2, field: "REDIS_VERSION")
    }

    /// The stack slots kept for the state's life (set up last in init): the real globals, the
    /// error handler, and the table of compiled scripts (EVAL) or registered functions.
    static let globalsSlot: Int32 = 1, handlerSlot: Int32 = 2, compiledSlot: Int32 = 3

    /// Compiles a script body; returns where it is kept (compiledSlot[ref]), or Lua's error.
    func compile(_ body: [UInt8], skipping shebang: Int) -> Result<Int32, ScriptError> {
        let lua = self.lua
        let ok = body.withUnsafeBufferPointer { b in
            lua.load(UnsafeBufferPointer(rebasing: b[shebang...]), name: "@user_script")
        }
        if !ok {
            let message = lua.toString(-1) ?? ""
            lua.pop()
            return .failure(ScriptError(message))
        }
        nextRef += 1
        lua.rawSet(Self.compiledSlot, index: nextRef)
        return .success(nextRef)
    }

    /// Drops a compiled script (evicted from the cache).
    func release(compiled ref: Int32) {
        lua.pushNil()
        lua.rawSet(Self.compiledSlot, index: ref)
    }

    /// The script client's context for the caller's event loop.
    func scriptContext(for caller: CommandContext) -> CommandContext {
        let id = ObjectIdentifier(caller.counters)
        if let c = contexts[id] { return c }
        let client = ClientState(id: 0, authenticated: true, now: caller.now, address: "")
        let c = CommandContext(keyspace: caller.keyspace, reply: ReplyWriter(), client: client, table: caller.table,
                               server: caller.server, counters: caller.counters)
        c.holdsShardLocks = true
        c.holdsAllShards = true
        contexts[id] = c
        return c
    }

    // MARK: running a script

    /// Runs compiled script `ref` with KEYS and ARGV set, writing its result (or error) to the
    /// caller's reply. The caller holds every shard lock.
    func runEval(_ run: ScriptRun, script ref: Int32, keys: Arguments, from first: Int, count numkeys: Int) {
        let lua = self.lua
        let base = lua.top
        defer { lua.setTop(base) }
        // KEYS and ARGV are globals of EVAL's scripts.
        pushArray(keys, first, first + numkeys)
        lua.rawSet(Self.globalsSlot, field: "KEYS")
        pushArray(keys, first + numkeys, keys.count)
        lua.rawSet(Self.globalsSlot, field: "ARGV")
        lua.pushValue(Self.handlerSlot)
        lua.rawGet(Self.compiledSlot, index: ref)
        execute(run, arguments: 0)
    }

    /// Calls the function on top (the error handler below it and `arguments` above it) and
    /// replies with its result.
    func execute(_ run: ScriptRun, arguments: Int32) {
        let lua = self.lua
        self.run = run
        engine.wroteSomething.store(false, ordering: .relaxed)
        engine.killRequested.store(false, ordering: .relaxed)
        engine.running.store(run.isEval ? 1 : 2, ordering: .relaxed)
        let hooked = engine.busyThresholdMs.load(ordering: .relaxed) > 0
        if hooked { vm.setInterrupt(every: 100_000, scriptInterrupt) }
        let ok = lua.pcall(arguments: arguments, results: 1, handler: -(arguments + 2))
        if hooked { vm.setInterrupt(every: 0, nil) }
        if run.busy { run.caller.keyspace.busyScript.store(0, ordering: .relaxed) }
        engine.running.store(0, ordering: .relaxed)
        self.run = nil
        let reply = run.caller.reply
        if ok {
            ScriptReplies.reply(lua, to: reply, scriptResp: run.ctx.reply.protocolVersion)
        } else {
            ScriptReplies.replyError(lua, to: reply, script: run.name.text)
        }
        lua.pop()
        run.ctx.reply.protocolVersion = 2
        collectGarbageSometimes()
    }

    /// The count hook's work (every 100,000 instructions): past busy-reply-threshold the script
    /// is busy, other clients get -BUSY, and the caller's loop serves its other clients between
    /// two hooks (so SCRIPT KILL can arrive). Stops the script (SCRIPT KILL, SHUTDOWN
    /// NOSAVE; 1), or FUNCTION LOAD's code past its 500 ms (2).
    func interrupt() -> Int32 {
        if let l = loading {
            // FUNCTION LOAD's code may not run longer than 500 ms.
            return monotonicUs() - l.startUs > 500_000 ? 2 : 0
        }
        guard let run else { return 0 }
        if engine.killRequested.load(ordering: .relaxed) { return 1 }
        if !run.busy {
            let elapsed = (monotonicUs() - run.startUs) / 1000
            if elapsed < Int64(engine.busyThresholdMs.load(ordering: .relaxed)) { return 0 }
            run.busy = true
            run.caller.server.scriptLog(level: 3, "Slow script detected: still in execution after \(elapsed) milliseconds. "
                + "You can try killing the script using the \(run.isEval ? "SCRIPT KILL" : "FUNCTION KILL") command. "
                + "Script name is: \(run.name.text).")
            run.caller.keyspace.busyScript.store(run.isEval ? 1 : 2, ordering: .relaxed)
        }
        run.caller.serveWhileBusy?()
        return engine.killRequested.load(ordering: .relaxed) ? 1 : 0
    }

    private var callsSinceGC = 0

    /// A step of the garbage collector every 50 scripts, as Redis does (a full cycle now and
    /// then costs more latency than small steps).
    private func collectGarbageSometimes() {
        callsSinceGC += 1
        if callsSinceGC == 50 {
            lua.gcStep(50)
            callsSinceGC = 0
        }
    }

    /// Pushes the real globals table (the sandbox's globals read through it).
    func globals() { lua.pushValue(Self.globalsSlot) }

    func pushArray(_ args: Arguments, _ from: Int, _ to: Int) {
        let lua = self.lua
        lua.newTable(array: Int32(max(0, to - from)))
        var n: Int32 = 1
        for i in from..<max(from, to) {
            lua.push(bytes: args[i])
            lua.rawSet(-2, index: n)
            n += 1
        }
    }

}

/// The count hook's entry (CLua calls it with the state): finds the ScriptVM in the registry.
func scriptInterrupt(_ L: OpaquePointer?) -> Int32 {
    let lua = LuaState(L!)
    lua.rawGet(LuaState.registryIndex, field: "tc_vm")
    let p = lua.toUserdata(-1)
    lua.pop()
    guard let p else { return 0 }
    return Unmanaged<ScriptVM>.fromOpaque(p).takeUnretainedValue().interrupt()
}
