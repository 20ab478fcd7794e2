import CTagCacheSys
import Lua
import RESP
import Store
import Synchronization

/// Flags a script declares in its shebang (`#!lua flags=no-writes,allow-oom`), as Redis 7.0
/// defines them; `evalCompat` marks a script without a shebang (Redis's compatibility mode).
struct ScriptFlags: OptionSet {
    let rawValue: UInt8
    static let noWrites = ScriptFlags(rawValue: 1)
    static let allowOOM = ScriptFlags(rawValue: 2)
    static let allowStale = ScriptFlags(rawValue: 4)
    static let noCluster = ScriptFlags(rawValue: 8)
    static let allowCrossSlot = ScriptFlags(rawValue: 16)
    static let evalCompat = ScriptFlags(rawValue: 32)

    static let names: [(String, ScriptFlags)] = [("no-writes", .noWrites), ("allow-oom", .allowOOM),
                                                  ("allow-stale", .allowStale), ("no-cluster", .noCluster),
                                                  ("allow-cross-slot-keys", .allowCrossSlot)]

    /// Reads a script's shebang line: the flags and the line's length (kept out of the compiled
    /// code, its line feed kept so line numbers stay the user's), or Redis's error.
    static func parse(_ body: [UInt8]) -> Result<(ScriptFlags, Int), ScriptError> {
        guard body.count >= 2, body[0] == 35, body[1] == 33 else { return .success((.evalCompat, 0)) }
        guard let end = body.firstIndex(of: 10) else { return .failure(ScriptError("ERR Invalid script shebang")) }
        let parts = splitArguments(body[0..<end])
        guard let parts, !parts.isEmpty else { return .failure(ScriptError("ERR Invalid engine in script shebang")) }
        guard parts[0] == "#!lua" else { return .failure(ScriptError("ERR Unexpected engine in script shebang: \(parts[0])")) }
        var flags: ScriptFlags = []
        for p in parts.dropFirst() {
            guard p.hasPrefix("flags=") else { return .failure(ScriptError("ERR Unknown lua shebang option: \(p)")) }
            let list = p.dropFirst(6)
            if list.isEmpty { continue }
            for f in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let (_, flag) = names.first(where: { $0.0 == f }) else {
                    return .failure(ScriptError("ERR Unexpected flag in script shebang: \(f)"))
                }
                flags.insert(flag)
            }
        }
        return .success((flags, end))
    }

    /// sdssplitargs's splitting of a line (quotes and escapes as redis-cli's): nil when unbalanced.
    static func splitArguments(_ line: ArraySlice<UInt8>) -> [String]? {
        var out: [String] = []
        var i = line.startIndex
        while true {
            while i < line.endIndex, line[i] == 32 || line[i] == 9 || line[i] == 10 || line[i] == 13 { i += 1 }
            if i >= line.endIndex { return out }
            var cur: [UInt8] = []
            var inDouble = false, inSingle = false
            while true {
                if inDouble {
                    guard i < line.endIndex else { return nil }
                    if line[i] == 92, i + 1 < line.endIndex {
                        i += 1
                        switch line[i] {
                        case 110: cur.append(10)
                        case 114: cur.append(13)
                        case 116: cur.append(9)
                        case 98: cur.append(8)
                        case 97: cur.append(7)
                        default: cur.append(line[i])
                        }
                    } else if line[i] == 34 {
                        if i + 1 < line.endIndex, ![32, 9, 10, 13].contains(line[i + 1]) { return nil }
                        inDouble = false
                        i += 1
                        break
                    } else {
                        cur.append(line[i])
                    }
                } else if inSingle {
                    guard i < line.endIndex else { return nil }
                    if line[i] == 92, i + 1 < line.endIndex, line[i + 1] == 39 {
                        i += 1
                        cur.append(39)
                    } else if line[i] == 39 {
                        if i + 1 < line.endIndex, ![32, 9, 10, 13].contains(line[i + 1]) { return nil }
                        inSingle = false
                        i += 1
                        break
                    } else {
                        cur.append(line[i])
                    }
                } else {
                    if i >= line.endIndex || [32, 9, 10, 13].contains(line[i]) { break }
                    if line[i] == 34 { inDouble = true } else if line[i] == 39 { inSingle = true } else { cur.append(line[i]) }
                }
                i += 1
            }
            out.append(String(decoding: cur, as: UTF8.self))
        }
    }
}

/// An error reply from scripting, its code included ("ERR ...", "NOSCRIPT ...").
struct ScriptError: Error {
    let message: String
    init(_ m: String) { message = m }
}

/// One cached EVAL script: its code, flags, and where its compiled function is in the VM.
struct CachedScript {
    let body: [UInt8]
    let flags: ScriptFlags
    let ref: Int32
    /// Added by EVAL (evictable), not SCRIPT LOAD (kept until SCRIPT FLUSH).
    var byEval: Bool
}

/// Lua scripting for the whole server: one Lua state, the script cache, and the script that
/// is running. Redis runs a script atomically with respect to every client; here a script runs
/// with every shard locked (as an EXEC does), and the state behind `lock`, which is only ever
/// taken after the shard locks (never the other way round), so EVALs from different event loops
/// take turns. SCRIPT LOAD, EXISTS and FLUSH take `lock` alone.
///
/// liblua5.1 is opened at run time: when it is missing, every scripting command answers
/// `unavailable`, and the server runs on.
public final class ScriptEngine: Sendable {
    /// Why scripting is unavailable (liblua5.1 missing), or nil; and the error scripting
    /// commands then answer.
    public let unavailableReason: String?
    public let unavailable: String?
    /// redis.REDIS_VERSION and _NUM.
    let version: String
    let lock: Locked<ScriptState>
    /// Whether a script is running, and what SCRIPT KILL may do to it: read by other loops.
    let running = Atomic<Int>(0)
    let killRequested = Atomic<Bool>(false)
    let wroteSomething = Atomic<Bool>(false)
    /// busy-reply-threshold (lua-time-limit) in ms: past it, a script becomes killable.
    public let busyThresholdMs = Atomic<Int>(5000)

    public init(redisVersion: String) {
        unavailableReason = LuaLibrary.unavailableReason
        unavailable = unavailableReason.map { "ERR scripting is unavailable: \($0)" }
        version = redisVersion
        lock = Locked(ScriptState())
    }

    /// INFO memory's figures, published after every change so INFO never waits for a running
    /// script: the Lua heap (used_memory_lua), the cache's bytes and scripts.
    let luaBytes = Atomic<Int>(0)
    let cacheBytes = Atomic<Int>(0)
    let cacheCount = Atomic<Int>(0)

    public var memory: (lua: Int, scripts: Int, cached: Int) {
        (luaBytes.load(ordering: .relaxed), cacheBytes.load(ordering: .relaxed), cacheCount.load(ordering: .relaxed))
    }

    /// Publishes the figures of the state (its owner holds the lock).
    func publish(_ s: ScriptState) {
        luaBytes.store(s.vm?.vm.allocatedBytes ?? 0, ordering: .relaxed)
        cacheBytes.store(s.scriptBytes, ordering: .relaxed)
        cacheCount.store(s.scripts.count, ordering: .relaxed)
        functionsLua.store(s.functionVM?.vm.allocatedBytes ?? 0, ordering: .relaxed)
        functionCount.store(s.functions.functionCount, ordering: .relaxed)
        libraryCount.store(s.functions.libraries.count, ordering: .relaxed)
        functionBytes.store(s.functions.libraries.reduce(0) { $0 + $1.code.count + 64 + $1.functions.count * 96 }, ordering: .relaxed)
    }

    /// INFO's functions figures: the functions VM's heap, functions, libraries, their bytes.
    let functionsLua = Atomic<Int>(0)
    let functionCount = Atomic<Int>(0)
    let libraryCount = Atomic<Int>(0)
    let functionBytes = Atomic<Int>(0)

    public var functionMemory: (lua: Int, functions: Int, libraries: Int, bytes: Int) {
        (functionsLua.load(ordering: .relaxed), functionCount.load(ordering: .relaxed),
         libraryCount.load(ordering: .relaxed), functionBytes.load(ordering: .relaxed))
    }

    /// The functions engine's VM, made on first use.
    func functionVM(_ s: ScriptState) -> ScriptVM? {
        if let v = s.functionVM { return v }
        guard unavailable == nil, let v = ScriptVM(version: version, engine: self, forFunctions: true) else { return nil }
        s.functionVM = v
        publish(s)
        return v
    }

    /// The function being run, for FUNCTION STATS (read by other loops while it runs).
    let runningFunction = Locked<(name: String, command: [[UInt8]], startUs: Int64)?>(nil)

    /// The state's Lua VM, made (with Redis's environment) on first use.
    func vm(_ s: ScriptState) -> ScriptVM? {
        if let v = s.vm { return v }
        guard unavailable == nil, let v = ScriptVM(version: version, engine: self) else { return nil }
        s.vm = v
        publish(s)
        return v
    }

    /// Adds a script to the cache (compiling it); returns its SHA-1, or the error reply.
    func load(_ s: ScriptState, _ body: [UInt8], sha knownSHA: ScriptSHA? = nil, byEval: Bool = false) -> Result<ScriptSHA, ScriptError> {
        let sha = knownSHA ?? ScriptSHA(SHA1.hex(body))!
        if s.scripts[sha] != nil {
            // SCRIPT LOAD keeps a script EVAL added.
            if !byEval && s.scripts[sha]!.byEval {
                s.scripts[sha]!.byEval = false
                s.evalScripts.removeValue(forKey: sha)
            }
            return .success(sha)
        }
        let flags: ScriptFlags
        let shebang: Int
        switch ScriptFlags.parse(body) {
        case let .success((f, n)): (flags, shebang) = (f, n)
        case let .failure(e): return .failure(e)
        }
        guard let vm = vm(s) else { return .failure(ScriptError(unavailable ?? "ERR scripting is unavailable")) }
        switch vm.compile(body, skipping: shebang) {
        case let .failure(err):
            return .failure(ScriptError("ERR Error compiling script (new function): \(err.message)"))
        case let .success(ref):
            s.scripts[sha] = CachedScript(body: body, flags: flags, ref: ref, byEval: byEval)
        }
        s.scriptBytes += body.count + 40 + 64
        if byEval {
            s.evalTick &+= 1
            s.evalScripts[sha] = s.evalTick
            if s.evalScripts.count > ScriptEngine.maxEvalScripts { evictEvalScript(s, vm) }
        }
        publish(s)
        return .success(sha)
    }

    /// The most scripts EVAL keeps compiled (as Redis 7.4 bounds them): beyond it the least
    /// recently run one goes, so a client sending ever new script texts cannot grow the cache
    /// without bound. Scripts SCRIPT LOAD added stay until SCRIPT FLUSH.
    static let maxEvalScripts = 500

    private func evictEvalScript(_ s: ScriptState, _ vm: ScriptVM) {
        guard let (sha, _) = s.evalScripts.min(by: { $0.value < $1.value }), let script = s.scripts[sha] else { return }
        s.evalScripts.removeValue(forKey: sha)
        s.scripts.removeValue(forKey: sha)
        s.scriptBytes -= script.body.count + 40 + 64
        s.evictedScripts += 1
        vm.release(compiled: script.ref)
    }

    /// script-heap-max: the most a Lua state may allocate while a script runs (0: no limit). One
    /// limit for the process (every server in it shares liblua's one allocator setting).
    public static func setHeapLimit(_ bytes: Int) { LuaLibrary.setHeapLimit(bytes) }

    /// SHUTDOWN NOSAVE while a script is busy: the script stops at its next hook, written or not.
    public func stopForShutdown() { killRequested.store(true, ordering: .relaxed) }

    /// SCRIPT FLUSH: forgets every script and starts a fresh Lua state.
    public func flush() {
        let old: ScriptVM? = lock.withLock { s in
            let v = s.vm
            s.vm = nil
            s.scripts = [:]
            s.evalScripts = [:]
            s.scriptBytes = 0
            publish(s)
            return v
        }
        // The old state is closed here, outside the lock.
        _ = old
    }
}

/// What `ScriptEngine.lock` guards.
final class ScriptState {
    var vm: ScriptVM?
    /// The functions engine's Lua state and its libraries.
    var functionVM: ScriptVM?
    var functions = FunctionRegistry()
    var scripts: [ScriptSHA: CachedScript] = [:]
    /// The scripts EVAL added, with when each last ran (for evicting the least recent).
    var evalScripts: [ScriptSHA: UInt64] = [:]
    var evalTick: UInt64 = 0
    var evictedScripts = 0
    var scriptBytes = 0
}
