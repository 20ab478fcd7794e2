import CTagCacheSys
import Lua
import RESP
import Store

/// The `redis` table's functions (script_lua.c's luaRedis*): redis.call and pcall with
/// scriptCall's checks, and the helpers around them.
extension ScriptVM {

    func call(_ which: Int, _ lua: LuaState) -> Int? {
        switch Function(rawValue: which)! {
        case .registerFunction: return registerFunction(lua)
        case .call: return redisCall(lua, raise: true)
        case .pcall: return redisCall(lua, raise: false)
        case .sha1hex:
            guard lua.top == 1 else { return raiseError(lua, "wrong number of arguments") }
            let digest = lua.withBytes(1) { SHA1.hex($0) } ?? SHA1.hex([])
            lua.push(bytes: digest)
            return 1
        case .errorReply:
            guard lua.top == 1, lua.type(-1) == .string else {
                ScriptReplies.pushError(lua, "wrong number or type of arguments")
                return 1
            }
            var text = lua.toBytes(-1) ?? []
            if text.first != 45 { text.insert(45, at: 0) }
            ScriptReplies.pushError(lua, text)
            return 1
        case .statusReply:
            guard lua.top == 1, lua.type(-1) == .string else {
                ScriptReplies.pushError(lua, "wrong number or type of arguments")
                return 1
            }
            lua.newTable()
            lua.pushValue(-2)
            lua.rawSet(-2, field: "ok")
            return 1
        case .log: return log(lua)
        case .setresp:
            guard let run else { return raiseError(lua, "redis.setresp can only be called inside a script invocation") }
            guard lua.top == 1 else { return raiseError(lua, "redis.setresp() requires one argument.") }
            let v = Self.truncatedInt(lua.toNumber(1))
            guard v == 2 || v == 3 else { return raiseError(lua, "RESP version must be 2 or 3.") }
            run.ctx.reply.protocolVersion = v
            return 0
        case .setRepl:
            guard run != nil else { return raiseError(lua, "redis.set_repl can only be called inside a script invocation") }
            guard lua.top == 1 else { return raiseError(lua, "redis.set_repl() requires two arguments.") }
            let v = Self.truncatedInt(lua.toNumber(-1))
            guard v & ~3 == 0 else {
                return raiseError(lua, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
            }
            return 0
        case .replicateCommands:
            lua.push(true)
            return 1
        case .breakpoint:
            lua.push(false)
            return 1
        case .debug:
            return 0
        case .aclCheckCmd:
            guard run != nil else { return raiseError(lua, "redis.acl_check_cmd can only be called inside a script invocation") }
            return withCommandArguments(lua) { args in
                guard lookUp(args) != nil else { return raiseError(lua, "Invalid command passed to redis.acl_check_cmd()") }
                // Every client has every permission (ACL users are not offered yet).
                lua.push(true)
                return 1
            } ?? raiseError(lua, nil)
        }
    }

    /// Pushes Redis's error table for `message` and asks the trampoline to raise it.
    func raiseError(_ lua: LuaState, _ message: String?) -> Int? {
        if let message { ScriptReplies.pushError(lua, message) }
        return nil
    }

    /// C's (int) conversion of a Lua number (out of range: INT_MIN, as x86 does).
    static func truncatedInt(_ d: Double) -> Int {
        d > -2_147_483_649 && d < 2_147_483_648 ? Int(Int32(d)) : Int(Int32.min)
    }

    private func log(_ lua: LuaState) -> Int? {
        let argc = lua.top
        guard argc >= 2 else { return raiseError(lua, "redis.log() requires two arguments or more.") }
        guard lua.isNumber(1) else { return raiseError(lua, "First argument must be a number (log level).") }
        let level = Self.truncatedInt(lua.toNumber(1))
        guard (0...3).contains(level) else { return raiseError(lua, "Invalid debug level.") }
        var text: [UInt8] = []
        for j in 2...argc {
            _ = lua.withBytes(j) { b in
                if j != 2 { text.append(32) }
                text.append(contentsOf: b)
            }
        }
        run?.caller.server.scriptLog(level: level, String(decoding: text, as: UTF8.self))
        return 0
    }

    /// The command named by args (a container's subcommand when it has them), or nil.
    private func lookUp(_ args: Arguments) -> CommandSpec? {
        guard let spec = run?.caller.table.lookup(args[0]) else { return nil }
        if !spec.subcommands.isEmpty && args.count >= 2 { return spec.subcommand(args[1]) }
        return spec
    }

    /// Calls body with the function's arguments as a command's (strings as they are, numbers as
    /// "%.17g", as Redis converts them), popping them from the stack first. nil, with Redis's
    /// error pushed, when there are none or one is neither a string nor a number.
    private func withCommandArguments(_ lua: LuaState, _ body: (Arguments) -> Int?) -> Int?? {
        let argc = Int(lua.top)
        if argc == 0 {
            ScriptReplies.pushError(lua, "Please specify at least one argument for this redis lib call")
            return .some(nil)
        }
        if spans.count < argc {
            spans.deallocate()
            spans = .allocate(capacity: max(argc, spans.count * 2))
        }
        var numberCount = 0
        for j in 1...argc where lua.type(Int32(j)) == .number { numberCount += 1 }
        if numberCount > numbersCapacity {
            numbers.deallocate()
            numbersCapacity = max(numberCount, numbersCapacity * 2)
            numbers = .allocate(capacity: numbersCapacity * 32)
        }
        var used = 0
        for j in 1...argc {
            let i = Int32(j)
            if lua.type(i) == .number {
                let p = numbers + used * 32
                let n = p.withMemoryRebound(to: CChar.self, capacity: 32) { Int(tc_format_double($0, 32, lua.toNumber(i))) }
                spans[j - 1] = Bytes(start: p, count: n)
                used += 1
            } else if let b = lua.withBytes(i, { $0 }) {
                // Valid while the string stays on the stack, which it does during the call.
                spans[j - 1] = b.count == 0 ? Bytes(start: numbers, count: 0) : b
            } else {
                lua.setTop(0)
                ScriptReplies.pushError(lua, "Lua redis lib command arguments must be strings or integers")
                return .some(nil)
            }
        }
        let result = body(Arguments(UnsafeBufferPointer(rebasing: spans[0..<argc])))
        return .some(result)
    }

    /// redis.call / redis.pcall: runs a command as the script's client (scriptCall's checks
    /// first) and converts its reply to Lua values.
    private func redisCall(_ lua: LuaState, raise: Bool) -> Int? {
        guard let run else { return raiseError(lua, "redis.call/pcall can only be called inside a script invocation") }
        let r = withCommandArguments(lua) { args -> Int? in
            let ctx = run.ctx
            if let error = check(args, run) {
                lua.setTop(0)
                ScriptReplies.pushError(lua, "-" + error)
                ScriptReplies.markStatsDone(lua)
                // Counted as an error and, for a command that exists, a rejected call, as
                // Redis's afterErrorReply and incrCommandStatsOnError do.
                ctx.reply.error(error)
                if let spec = resolved { ctx.counters.recordRejected(spec.id) }
                ctx.reply.out.clear()
                return raise ? nil : 1
            }
            let spec = resolved!
            Dispatcher.call(ctx, spec, args)
            lua.setTop(0)
            let out = ctx.reply.out
            let isError = out.readableBytes.first == 45
            ScriptReplies.push(UnsafeRawBufferPointer(out.readableBytes), to: lua)
            out.clear(shrinkTo: 1 << 16)
            return raise && isError ? nil : 1
        }
        switch r {
        case let .some(n): return n ?? (raise ? nil : 1)
        case .none: return nil
        }
    }


    /// scriptCall's checks, in Redis's order: the error message, or nil.
    private func check(_ args: Arguments, _ run: ScriptRun) -> String? {
        resolved = nil
        guard let spec = lookUp(args) else { return "ERR Unknown Redis command called from script" }
        resolved = spec
        guard spec.arityAccepts(args.count) else { return "ERR Wrong number of args calling Redis command from script" }
        let flags = spec.flags.union(spec.parent?.flags ?? [])
        if flags.contains(.noscript) { return "ERR This Redis command is not allowed from script" }
        let writes = spec.flags.contains(.write)
        // (Redis also refuses its may_replicate commands here; the descriptions do not carry
        // that flag yet.)
        if run.readOnly && writes {
            return "ERR Write commands are not allowed from read-only scripts."
        }
        if !run.flags.contains(.allowOOM) || run.flags.contains(.evalCompat), run.outOfMemory, !run.wroteSomething,
           spec.flags.contains(.denyoom) {
            return "OOM command not allowed when used memory > 'maxmemory'."
        }
        if writes {
            run.wroteSomething = true
            engine.wroteSomething.store(true, ordering: .relaxed)
        }
        run.ctx.now = run.caller.now
        return nil
    }
}
