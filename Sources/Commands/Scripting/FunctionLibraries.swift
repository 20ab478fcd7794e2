import Lua
import RESP
import Store

/// One function of a library (redis.register_function).
struct LibraryFunction {
    let name: String
    let description: [UInt8]?
    let flags: ScriptFlags
    /// Where its Lua function is kept: tc_function_refs[ref] in the functions VM's registry.
    let ref: Int32
}

/// A library loaded by FUNCTION LOAD: its name, whole code (shebang included, as FUNCTION LIST
/// WITHCODE shows it) and functions in the order registered.
struct FunctionLibrary {
    let name: String
    let code: [UInt8]
    var functions: [LibraryFunction]
}

/// FUNCTION LOAD's library while its code runs.
final class LoadingLibrary {
    let startUs = monotonicUs()
    var functions: [LibraryFunction] = []
}

/// The libraries and their functions (Redis's functionsLibCtx); function names are global and
/// compared ignoring case, library names exactly.
struct FunctionRegistry {
    var libraries: [FunctionLibrary] = []
    /// Lower-cased function name -> (library index, function index).
    var byName: [String: (library: Int, function: Int)] = [:]

    func library(_ name: String) -> Int? { libraries.firstIndex { $0.name == name } }

    func function(_ name: String) -> LibraryFunction? {
        guard let at = byName[name.lowercased()] else { return nil }
        return libraries[at.library].functions[at.function]
    }

    var functionCount: Int { byName.count }

    mutating func rebuildIndex() {
        byName = [:]
        for (l, lib) in libraries.enumerated() {
            for (f, fn) in lib.functions.enumerated() { byName[fn.name.lowercased()] = (l, f) }
        }
    }
}

extension ScriptVM {
    /// The `redis` table FUNCTION LOAD's code sees (register_function, log and the version)
    /// and the globals around it, kept in the registry as tc_load_api.
    func setUpLoadAPI(version: String) {
        let lua = self.lua
        lua.newTable() // the load-time globals
        lua.newTable() // their `redis`
        lua.push(function: Function.registerFunction.rawValue, of: functions)
        lua.rawSet(-2, field: "register_function")
        addLogAndVersion(version)
        vm.raiseOnMissingFields()
        vm.makeReadOnly()
        lua.rawSet(-2, field: "redis")
        lua.rawSet(LuaState.registryIndex, field: "tc_load_api")
        lua.newTable()
        lua.rawSet(LuaState.registryIndex, field: "tc_function_refs")
    }

    /// Runs a library's code with the load-time globals: its register_function calls fill
    /// `loading`. Returns the registered functions, or the error reply.
    func loadLibrary(_ code: ArraySlice<UInt8>) -> Result<[LibraryFunction], ScriptError> {
        let lua = self.lua
        let base = lua.top
        defer { lua.setTop(base) }
        let compiled = code.withUnsafeBufferPointer { lua.load($0, name: "@user_function") }
        if !compiled {
            return .failure(ScriptError("ERR Error compiling function: \(lua.toString(-1) ?? "")"))
        }
        lua.rawGet(LuaState.registryIndex, field: "tc_load_api")
        vm.readGlobalsFromTableOnTop()
        let library = LoadingLibrary()
        loading = library
        vm.setInterrupt(every: 100_000, scriptInterrupt)
        let ok = lua.pcall(arguments: 0, results: 0, handler: 0)
        vm.setInterrupt(every: 0, nil)
        loading = nil
        globals()
        vm.readGlobalsFromTableOnTop()
        if !ok {
            var message = "ERR " + (lua.toString(-1) ?? "")
            if lua.type(-1) == .table {
                lua.rawGet(-1, field: "err")
                message = lua.toString(-1) ?? "(null)"
                lua.pop()
            }
            release(library.functions)
            return .failure(ScriptError("ERR Error registering functions: \(message)"))
        }
        return .success(library.functions)
    }

    /// Drops the Lua functions of unloaded (or never linked) library functions.
    func release(_ fns: [LibraryFunction]) {
        let lua = self.lua
        lua.rawGet(LuaState.registryIndex, field: "tc_function_refs")
        for f in fns {
            lua.pushNil()
            lua.rawSet(-2, index: f.ref)
        }
        lua.pop()
    }

    /// Pushes a registered function's Lua function.
    func pushFunction(_ f: LibraryFunction) { lua.rawGet(Self.compiledSlot, index: f.ref) }

    /// Calls a function with its keys and arguments tables, replying to the caller.
    func runFunction(_ run: ScriptRun, _ f: LibraryFunction, keys args: Arguments, from first: Int, count numkeys: Int) {
        let lua = self.lua
        let base = lua.top
        defer { lua.setTop(base) }
        lua.pushValue(Self.handlerSlot)
        pushFunction(f)
        pushArray(args, first, first + numkeys)
        pushArray(args, first + numkeys, args.count)
        execute(run, arguments: 2)
    }

    /// redis.register_function(name, callback) or ({function_name=, callback=, flags=,
    /// description=}), with Redis's errors.
    func registerFunction(_ lua: LuaState) -> Int? {
        guard let library = loading else {
            return raiseError(lua, "redis.register_function can only be called on FUNCTION LOAD command")
        }
        let argc = lua.top
        guard argc == 1 || argc == 2 else { return raiseError(lua, "wrong number of arguments to redis.register_function") }
        var name: String?
        var description: [UInt8]?
        var flags: ScriptFlags = []
        if argc == 2 {
            guard lua.type(1) == .string || lua.type(1) == .number, let n = lua.toString(1) else {
                return raiseError(lua, "first argument to redis.register_function must be a string")
            }
            guard lua.type(2) == .function else { return raiseError(lua, "second argument to redis.register_function must be a function") }
            name = n
            lua.pushValue(2)
        } else {
            guard lua.type(1) == .table else {
                return raiseError(lua, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
            }
            var callback = false
            lua.pushNil()
            while lua.next(1) {
                guard lua.type(-2) == .string || lua.type(-2) == .number else {
                    return raiseError(lua, "named argument key given to redis.register_function is not a string")
                }
                // (A number key is converted to a string in place; lua_next then fails on it in
                // Redis too, so stop reading here.)
                let key = (lua.type(-2) == .string ? lua.toString(-2) : String(Int(lua.toNumber(-2)))) ?? ""
                switch key.lowercased() {
                case "function_name":
                    guard lua.isString(-1), let n = lua.toString(-1) else {
                        return raiseError(lua, "function_name argument given to redis.register_function must be a string")
                    }
                    name = n
                case "description":
                    guard lua.isString(-1), let d = lua.toBytes(-1) else {
                        return raiseError(lua, "description argument given to redis.register_function must be a string")
                    }
                    description = d
                case "callback":
                    guard lua.type(-1) == .function else {
                        return raiseError(lua, "callback argument given to redis.register_function must be a function")
                    }
                    callback = true
                    lua.pushValue(-1)
                    lua.rawSet(LuaState.registryIndex, field: "tc_pending_callback")
                case "flags":
                    guard lua.type(-1) == .table else {
                        return raiseError(lua, "flags argument to redis.register_function must be a table representing function flags")
                    }
                    guard let f = readFlags(lua) else { return raiseError(lua, "unknown flag given") }
                    flags = f
                default:
                    return raiseError(lua, "unknown argument given to redis.register_function")
                }
                lua.pop()
            }
            guard let n = name else { return raiseError(lua, "redis.register_function must get a function name argument") }
            name = n
            guard callback else { return raiseError(lua, "redis.register_function must get a callback argument") }
            lua.rawGet(LuaState.registryIndex, field: "tc_pending_callback")
            lua.pushNil()
            lua.rawSet(LuaState.registryIndex, field: "tc_pending_callback")
        }
        let fname = name!
        if fname.isEmpty || !fname.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) {
            return raiseError(lua, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
        }
        if library.functions.contains(where: { $0.name == fname }) {
            return raiseError(lua, "Function already exists in the library")
        }
        // The callback is on top: keep it under a new reference.
        nextRef += 1
        let ref = nextRef
        lua.rawGet(LuaState.registryIndex, field: "tc_function_refs")
        lua.insert(-2)
        lua.rawSet(-2, index: ref)
        lua.pop()
        library.functions.append(LibraryFunction(name: fname, description: description, flags: flags, ref: ref))
        return 0
    }

    /// The flags table of a named registration (on top): nil on an unknown flag.
    private func readFlags(_ lua: LuaState) -> ScriptFlags? {
        var flags: ScriptFlags = []
        var j: Int32 = 1
        while true {
            lua.rawGet(-1, index: j)
            j += 1
            if lua.type(-1) == .nil_ {
                lua.pop()
                return flags
            }
            guard lua.isString(-1), let s = lua.toString(-1)?.lowercased(),
                  let (_, f) = ScriptFlags.names.first(where: { $0.0 == s }) else {
                lua.pop()
                return nil
            }
            flags.insert(f)
            lua.pop()
        }
    }
}
