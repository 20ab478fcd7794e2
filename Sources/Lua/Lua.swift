import CLua

/// Lua 5.1, loaded at run time (Sources/CLua): whether it could be opened, and why not.
public enum LuaLibrary {
    /// nil when liblua5.1 is loaded; otherwise what is missing, for the error scripting
    /// commands answer and the start-up log.
    public static let unavailableReason: String? = {
        var buf = [CChar](repeating: 0, count: 256)
        if tc_lua_open(&buf, buf.count) == 0 {
            tc_lua_set_swift(luaCallsSwift)
            return nil
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The most bytes one Lua state may allocate while its code runs (0: no limit); past it
    /// the script fails with "not enough memory".
    public static func setHeapLimit(_ bytes: Int) { tc_lua_set_heap_limit(Int64(bytes)) }

    /// Whether Debian's lua-cjson and lua-bitop modules were found.
    public static var hasCJSON: Bool { unavailableReason == nil && tc_lua_has_cjson() != 0 }
    public static var hasBit: Bool { unavailableReason == nil && tc_lua_has_bit() != 0 }
}

/// Swift functions callable from Lua: `body(which, lua)` runs function `which` with its
/// arguments at 1...top of `lua`'s stack and returns how many results it pushed, or nil after
/// pushing an error value, which Lua then raises (from C: see CLua.h).
public final class LuaFunctionTable {
    let body: (Int, LuaState) -> Int?
    public init(_ body: @escaping (Int, LuaState) -> Int?) { self.body = body }
}

private func luaCallsSwift(_ L: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ which: Int32) -> Int32 {
    let table = Unmanaged<LuaFunctionTable>.fromOpaque(context!).takeUnretainedValue()
    guard let n = table.body(Int(which), LuaState(L!)) else { return -1 }
    return Int32(n)
}

/// The kinds of Lua values.
public enum LuaType: Int32 {
    case none = -1, nil_ = 0, boolean = 1, lightUserdata = 2, number = 3, string = 4, table = 5,
         function = 6, userdata = 7, thread = 8
}

/// A Lua state's stack, with Lua 5.1's C API (and its macros) as Swift methods. Only calls that
/// do not raise Lua errors are offered (raw table access; see CLua.h), except `pcall`, which
/// catches them.
public struct LuaState {
    public let L: OpaquePointer

    public init(_ L: OpaquePointer) { self.L = L }

    public static let registryIndex = Int32(TC_LUA_REGISTRYINDEX)
    public static let globalsIndex = Int32(TC_LUA_GLOBALSINDEX)

    public var top: Int32 { tc_lua_gettop(L) }
    public func setTop(_ i: Int32) { tc_lua_settop(L, i) }
    public func pop(_ n: Int32 = 1) { tc_lua_settop(L, -n - 1) }
    public func pushValue(_ i: Int32) { tc_lua_pushvalue(L, i) }
    public func remove(_ i: Int32) { tc_lua_remove(L, i) }
    public func insert(_ i: Int32) { tc_lua_insert(L, i) }
    public func replace(_ i: Int32) { tc_lua_replace(L, i) }
    public func checkStack(_ n: Int32) -> Bool { tc_lua_checkstack(L, n) != 0 }

    public func type(_ i: Int32) -> LuaType { LuaType(rawValue: tc_lua_type(L, i)) ?? .none }
    public func isNumber(_ i: Int32) -> Bool { tc_lua_isnumber(L, i) != 0 }
    /// True for strings and numbers (which convert).
    public func isString(_ i: Int32) -> Bool { tc_lua_isstring(L, i) != 0 }
    public func toNumber(_ i: Int32) -> Double { tc_lua_tonumber(L, i) }
    public func toBoolean(_ i: Int32) -> Bool { tc_lua_toboolean(L, i) != 0 }
    /// The string (or number, converted in place) at i as bytes, or nil.
    public func withBytes<R>(_ i: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        var n = 0
        guard let p = tc_lua_tolstring(L, i, &n) else { return nil }
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { body(UnsafeBufferPointer(start: $0, count: n)) }
    }
    public func toBytes(_ i: Int32) -> [UInt8]? { withBytes(i) { Array($0) } }
    public func toString(_ i: Int32) -> String? { withBytes(i) { String(decoding: $0, as: UTF8.self) } }
    public func length(_ i: Int32) -> Int { tc_lua_objlen(L, i) }
    public func toUserdata(_ i: Int32) -> UnsafeMutableRawPointer? { tc_lua_touserdata(L, i) }

    public func pushNil() { tc_lua_pushnil(L) }
    public func push(_ n: Double) { tc_lua_pushnumber(L, n) }
    public func push(_ b: Bool) { tc_lua_pushboolean(L, b ? 1 : 0) }
    public func push(_ s: String) {
        var s = s
        s.withUTF8 { push(bytes: $0) }
    }
    public func push(bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.isEmpty { tc_lua_pushlstring(L, "", 0); return }
        bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { tc_lua_pushlstring(L, $0, bytes.count) }
    }
    public func push(raw: UnsafeRawBufferPointer) { push(bytes: raw.bindMemory(to: UInt8.self)) }
    public func push(bytes: [UInt8]) { bytes.withUnsafeBufferPointer { push(bytes: $0) } }
    public func push(lightUserdata p: UnsafeMutableRawPointer) { tc_lua_pushlightuserdata(L, p) }
    /// Pushes a Lua function that calls function `which` of `table`. The table must outlive the
    /// state (it is not retained).
    public func push(function which: Int, of table: LuaFunctionTable) {
        tc_lua_push_swift(L, Unmanaged.passUnretained(table).toOpaque(), Int32(which))
    }

    public func newTable(array: Int32 = 0, records: Int32 = 0) { tc_lua_createtable(L, array, records) }
    /// t[k] without metamethods: t at i, k on top (replaced by the value).
    public func rawGet(_ i: Int32) { tc_lua_rawget(L, i) }
    public func rawGet(_ i: Int32, index n: Int32) { tc_lua_rawgeti(L, i, n) }
    /// t[name] without metamethods (t at a negative index counts the pushed name).
    public func rawGet(_ i: Int32, field name: String) {
        push(name)
        rawGet(i < 0 && i > LuaState.registryIndex ? i - 1 : i)
    }
    /// t[k] = v without metamethods: t at i, k and v on top (both popped).
    public func rawSet(_ i: Int32) { tc_lua_rawset(L, i) }
    public func rawSet(_ i: Int32, index n: Int32) { tc_lua_rawseti(L, i, n) }
    /// t[name] = value on top (popped), without metamethods.
    public func rawSet(_ i: Int32, field name: String) {
        push(name)
        insert(-2)
        rawSet(i < 0 && i > LuaState.registryIndex ? i - 1 : i)
    }
    /// The next key/value of the table at i after the key on top (Lua's lua_next).
    public func next(_ i: Int32) -> Bool { tc_lua_next(L, i) != 0 }

    /// Compiles a chunk: true with the function on the stack, false with the error message.
    public func load(_ code: UnsafeBufferPointer<UInt8>, name: String) -> Bool {
        let empty: [CChar] = [0]
        return empty.withUnsafeBufferPointer { e in
            code.withMemoryRebound(to: CChar.self) { c in
                tc_lua_loadbuffer(L, c.baseAddress ?? e.baseAddress!, c.count, name) == 0
            }
        }
    }
    /// Calls the function below nargs arguments; false with the (handled) error on the stack.
    /// The heap limit (LuaLibrary.setHeapLimit) holds for the Lua code it runs.
    public func pcall(arguments: Int32, results: Int32, handler: Int32) -> Bool {
        tc_lua_pcall_limited(L, arguments, results, handler) == 0
    }

    /// Bytes the Lua heap holds (lua_gc COUNT, COUNTB).
    public var heapBytes: Int { Int(tc_lua_gc(L, Int32(TC_LUA_GCCOUNT), 0)) * 1024 + Int(tc_lua_gc(L, Int32(TC_LUA_GCCOUNTB), 0)) }
    public func gcStep(_ n: Int32) { _ = tc_lua_gc(L, Int32(TC_LUA_GCSTEP), n) }
    public func gcCollect() { _ = tc_lua_gc(L, Int32(TC_LUA_GCCOLLECT), 0) }
}

/// A Lua state of its own, with the libraries Redis's scripts see and the guards of its sandbox
/// (CLua.c). Not thread-safe: its owner serializes every use.
public final class LuaVM {
    public let state: LuaState
    private let used: UnsafeMutablePointer<Int64>

    /// nil when liblua5.1 is unavailable (LuaLibrary.unavailableReason says why).
    public init?() {
        guard LuaLibrary.unavailableReason == nil else { return nil }
        used = .allocate(capacity: 1)
        used.initialize(to: 0)
        guard let L = tc_lua_newstate(used) else {
            used.deallocate()
            return nil
        }
        state = LuaState(L)
        tc_lua_open_libraries(L)
        tc_lua_install_guards(L)
    }

    deinit {
        tc_lua_close(state.L)
        used.deallocate()
    }

    /// Bytes allocated by this state (its heap, as Redis's used_memory_lua reports it).
    public var allocatedBytes: Int { Int(used.pointee) }

    /// Makes the globals read-only (after the environment is complete): reading an undefined
    /// global or writing any raises Redis's errors. The real globals stay reachable from the
    /// registry as `tc_globals`.
    public func protectGlobals() { tc_lua_protect_globals(state.L) }

    /// Reads globals from the table on top (popped) instead: see tc_lua_set_globals_source.
    public func readGlobalsFromTableOnTop() {
        tc_lua_set_globals_source(state.L, -1)
        state.pop()
    }

    /// Reading a missing field of the table on top raises Redis's undefined-global error.
    public func raiseOnMissingFields() { tc_lua_set_error_metatable(state.L, -1) }

    /// Pushes a read-only view of the table on top in its place.
    public func makeReadOnly() { tc_lua_push_readonly(state.L, -1) }

    /// Installs (count > 0) or removes the count hook: every `count` instructions
    /// `interrupt` runs; when it returns true the script is stopped with Redis's "Script killed
    /// by user" error.
    public func setInterrupt(every count: Int32, _ interrupt: tc_lua_interrupt_fn?) {
        tc_lua_set_interrupt(state.L, count, interrupt)
    }
}
