import Lua
import RESP

/// The conversions between Redis replies and Lua values, as Redis 7.0's script_lua.c defines
/// them: a command's reply (RESP2 or RESP3, as the script chose with redis.setresp) becomes a
/// Lua value for redis.call, and the script's result becomes the caller's reply.
enum ScriptReplies {
    /// How deep a script's result may nest (each level is a native stack frame here and Lua
    /// stack slots in Redis, which stops at its stack limit with the same error).
    static let maxDepth = 1000

    // MARK: reply -> Lua

    /// Pushes the Lua value of one complete reply (TagCache's own output, so well formed).
    static func push(_ reply: UnsafeRawBufferPointer, to lua: LuaState) {
        var p = 0
        pushValue(reply, &p, lua)
    }

    private static func line(_ r: UnsafeRawBufferPointer, _ p: inout Int) -> UnsafeRawBufferPointer {
        let start = p
        while p + 1 < r.count && !(r[p] == 13 && r[p + 1] == 10) { p += 1 }
        let s = UnsafeRawBufferPointer(rebasing: r[start..<p])
        p += 2
        return s
    }

    private static func integer(_ s: UnsafeRawBufferPointer) -> Int {
        var v = 0
        var negative = false
        for (i, c) in s.enumerated() {
            if i == 0 && c == 45 { negative = true; continue }
            v = v &* 10 &+ Int(c &- 48)
        }
        return negative ? 0 &- v : v
    }

    private static func pushValue(_ r: UnsafeRawBufferPointer, _ p: inout Int, _ lua: LuaState) {
        _ = lua.checkStack(4)
        let type = r[p]
        p += 1
        let head = line(r, &p)
        switch type {
        case 43: // + status: {ok=...}
            lua.newTable()
            lua.push(raw: head)
            lua.rawSet(-2, field: "ok")
        case 45: // - error: {err=...}, already counted
            var text: [UInt8] = [45]
            text.append(contentsOf: head)
            pushError(lua, text)
            markStatsDone(lua)
        case 58: // : integer
            lua.push(Double(integer(head)))
        case 36, 61: // $ bulk, = verbatim
            let n = integer(head)
            if n < 0 {
                lua.push(false)
                return
            }
            let body = UnsafeRawBufferPointer(rebasing: r[p..<p + n])
            p += n + 2
            if type == 36 {
                lua.push(raw: body)
            } else {
                lua.newTable()
                lua.newTable()
                lua.push(raw: UnsafeRawBufferPointer(rebasing: body[4...]))
                lua.rawSet(-2, field: "string")
                lua.push(raw: UnsafeRawBufferPointer(rebasing: body[0..<3]))
                lua.rawSet(-2, field: "format")
                lua.rawSet(-2, field: "verbatim_string")
            }
        case 42, 62: // * array (> push, not in replies)
            let n = integer(head)
            if n < 0 {
                lua.push(false)
                return
            }
            lua.newTable(array: Int32(min(n, 1 << 20)))
            for i in 0..<n {
                pushValue(r, &p, lua)
                lua.rawSet(-2, index: Int32(i + 1))
            }
        case 37: // % map: {map={k=v}}
            let n = integer(head)
            lua.newTable()
            lua.newTable()
            for _ in 0..<n {
                pushValue(r, &p, lua)
                pushValue(r, &p, lua)
                setUnlessNilKey(lua)
            }
            lua.rawSet(-2, field: "map")
        case 126: // ~ set: {set={k=true}}
            let n = integer(head)
            lua.newTable()
            lua.newTable()
            for _ in 0..<n {
                pushValue(r, &p, lua)
                lua.push(true)
                setUnlessNilKey(lua)
            }
            lua.rawSet(-2, field: "set")
        case 95: // _ null
            lua.pushNil()
        case 35: // # boolean
            lua.push(head.first == 116)
        case 44: // , double: {double=d}
            lua.newTable()
            lua.push(parseDouble(head))
            lua.rawSet(-2, field: "double")
        case 40: // ( big number: {big_number=...}
            lua.newTable()
            lua.push(raw: head)
            lua.rawSet(-2, field: "big_number")
        case 124: // | attribute: skipped, the value follows
            let n = integer(head)
            for _ in 0..<(2 * n) {
                pushValue(r, &p, lua)
                lua.pop()
            }
            pushValue(r, &p, lua)
        default:
            lua.pushNil()
        }
    }

    /// t[k] = v (k and v on top, t below them); a nil key (a null in a map or set) is dropped.
    private static func setUnlessNilKey(_ lua: LuaState) {
        if lua.type(-2) == .nil_ {
            lua.pop(2)
        } else {
            lua.rawSet(-3)
        }
    }

    private static func parseDouble(_ s: UnsafeRawBufferPointer) -> Double {
        let text = String(decoding: s, as: UTF8.self)
        switch text {
        case "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(text) ?? 0
        }
    }

    /// Pushes Redis's error table {err="CODE message"}: a message starting with '-' has its
    /// code as its first word; any other gets ERR (luaPushErrorBuff).
    static func pushError(_ lua: LuaState, _ message: String) { pushError(lua, Array(message.utf8)) }

    static func pushError(_ lua: LuaState, _ message: [UInt8]) {
        var code: ArraySlice<UInt8> = Array("ERR".utf8)[...]
        var msg = message[...]
        if message.first == 45 {
            if let space = message.firstIndex(of: 32) {
                code = message[1..<space]
                msg = message[(space + 1)...]
            } else {
                msg = message[1...]
            }
        }
        // No line ends at the end (a ready-made reply has them).
        while let last = msg.last, last == 13 || last == 10 { msg = msg.dropLast() }
        while let first = msg.first, first == 13 || first == 10 { msg = msg.dropFirst() }
        var text = Array(code)
        text.append(32)
        text.append(contentsOf: msg)
        lua.newTable()
        lua.push(bytes: text)
        lua.rawSet(-2, field: "err")
    }

    /// Marks the error table on top as already counted in the error statistics.
    static func markStatsDone(_ lua: LuaState) {
        lua.push(true)
        lua.rawSet(-2, field: "ignore_error_stats_update")
    }

    // MARK: Lua -> reply

    /// Replies with the Lua value on top (left on the stack). `scriptResp` is the protocol the
    /// script chose: in RESP2 a false boolean is a null, in RESP3 a boolean.
    static func reply(_ lua: LuaState, to reply: ReplyWriter, scriptResp: Int, depth: Int = 0) {
        guard depth < maxDepth, lua.checkStack(4) else {
            reply.error("ERR reached lua stack limit")
            return
        }
        switch lua.type(-1) {
        case .string:
            _ = lua.withBytes(-1) { reply.bulk($0) }
        case .boolean:
            if scriptResp == 2 {
                if lua.toBoolean(-1) { reply.integer(1) } else { reply.null() }
            } else {
                reply.boolean(lua.toBoolean(-1))
            }
        case .number:
            reply.integer(truncated(lua.toNumber(-1)))
        case .table:
            replyTable(lua, to: reply, scriptResp: scriptResp, depth: depth)
        default:
            reply.null()
        }
    }

    /// C's (long long) conversion of a double: out of range and NaN give LLONG_MIN on x86.
    static func truncated(_ d: Double) -> Int {
        d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 ? Int(d) : Int.min
    }

    /// Looks up t[name] (t on top) and leaves it on top if its type is `type`; else pops it.
    private static func field(_ lua: LuaState, _ name: String, _ type: LuaType) -> Bool {
        lua.rawGet(-1, field: name)
        if lua.type(-1) == type { return true }
        lua.pop()
        return false
    }

    private static func replyTable(_ lua: LuaState, to reply: ReplyWriter, scriptResp: Int, depth: Int) {
        if field(lua, "err", .string) {
            lua.pop()
            replyErrorTable(lua, to: reply)
            return
        }
        if field(lua, "ok", .string) {
            let text = (lua.toBytes(-1) ?? []).map { $0 == 13 || $0 == 10 ? 32 : $0 }
            lua.pop()
            reply.out.append(43)
            text.withUnsafeBufferPointer { reply.out.append($0) }
            reply.out.append("\r\n")
            return
        }
        if field(lua, "double", .number) {
            reply.double(lua.toNumber(-1))
            lua.pop()
            return
        }
        if field(lua, "big_number", .string) {
            let text = (lua.toBytes(-1) ?? []).map { $0 == 13 || $0 == 10 ? 32 : $0 }
            lua.pop()
            if reply.resp3 {
                reply.out.append(40)
                text.withUnsafeBufferPointer { reply.out.append($0) }
                reply.out.append("\r\n")
            } else {
                reply.bulk(text)
            }
            return
        }
        if field(lua, "verbatim_string", .table) {
            if field(lua, "format", .string) {
                let format = lua.toBytes(-1) ?? []
                lua.pop()
                if field(lua, "string", .string) {
                    let text = lua.toBytes(-1) ?? []
                    lua.pop(2)
                    if reply.resp3 {
                        reply.out.append(61)
                        reply.out.appendDecimal(text.count + 4)
                        reply.out.append("\r\n")
                        format.prefix(3).withUnsafeBufferPointer { reply.out.append($0) }
                        reply.out.append(58)
                        text.withUnsafeBufferPointer { reply.out.append($0) }
                        reply.out.append("\r\n")
                    } else {
                        reply.bulk(text)
                    }
                    return
                }
            }
            lua.pop()
        }
        if field(lua, "map", .table) {
            var n = 0
            lua.pushNil()
            while lua.next(-2) {
                n += 1
                lua.pop()
            }
            reply.map(n)
            lua.pushNil()
            while lua.next(-2) {
                lua.pushValue(-2)
                Self.reply(lua, to: reply, scriptResp: scriptResp, depth: depth + 1)
                lua.pop()
                Self.reply(lua, to: reply, scriptResp: scriptResp, depth: depth + 1)
                lua.pop()
            }
            lua.pop()
            return
        }
        if field(lua, "set", .table) {
            var n = 0
            lua.pushNil()
            while lua.next(-2) {
                n += 1
                lua.pop()
            }
            reply.set(n)
            lua.pushNil()
            while lua.next(-2) {
                lua.pop()
                Self.reply(lua, to: reply, scriptResp: scriptResp, depth: depth + 1)
            }
            lua.pop()
            return
        }
        // An array: t[1], t[2], ... up to the first nil.
        var n: Int32 = 0
        while true {
            lua.rawGet(-1, index: n + 1)
            let isNil = lua.type(-1) == .nil_
            lua.pop()
            if isNil { break }
            n += 1
        }
        reply.array(Int(n))
        for i in 0..<n {
            lua.rawGet(-1, index: i + 1)
            Self.reply(lua, to: reply, scriptResp: scriptResp, depth: depth + 1)
            lua.pop()
        }
    }

    /// Replies with the error table on top: its `err` text, counted in the error statistics
    /// unless a command inside the script already counted it.
    static func replyErrorTable(_ lua: LuaState, to reply: ReplyWriter, suffix: String = "") {
        // A table raised without `err` (error({})): Redis 7.0 crashes formatting a NULL message.
        var text: [UInt8] = Array("ERR unknown error".utf8)
        if field(lua, "err", .string) {
            text = lua.toBytes(-1) ?? []
            lua.pop()
        }
        text.append(contentsOf: suffix.utf8)
        var counted = true
        if field(lua, "ignore_error_stats_update", .boolean) {
            counted = !lua.toBoolean(-1)
            lua.pop()
        }
        text.withUnsafeBytes { reply.error(bytes: $0, counted: counted) }
    }

    /// Replies with a script's error (on top): `ERR ... script: <name>, on <source>:<line>.`
    static func replyError(_ lua: LuaState, to reply: ReplyWriter, script name: String) {
        guard lua.type(-1) == .table else {
            let msg = lua.type(-1) == .string ? String((lua.toString(-1) ?? "").utf8.prefix(100)) ?? "" : "execution failure"
            reply.error("ERR Error running script \(name), \(msg)")
            return
        }
        var suffix = ""
        if field(lua, "source", .string) {
            let source = lua.toString(-1) ?? ""
            lua.pop()
            lua.rawGet(-1, field: "line")
            if lua.isString(-1) {
                suffix = " script: \(name), on \(source):\(lua.toString(-1) ?? "")."
            }
            lua.pop()
        }
        replyErrorTable(lua, to: reply, suffix: suffix)
    }
}
