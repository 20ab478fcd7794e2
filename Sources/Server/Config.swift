import RESP
import Store

/// One configuration directive: how its value is parsed, shown and whether CONFIG SET may
/// change it at run time. Values are kept in the form CONFIG GET shows.
public struct Directive: Sendable {
    public enum Kind: Sendable {
        case integer(min: Int, max: Int)
        /// An integer accepted within min...max and then kept within lo...hi (Redis's hz).
        case clampedInteger(min: Int, max: Int, lo: Int, hi: Int)
        /// A byte count: accepts Redis's units (1k, 1kb, 1mb, 1gb...), shown as bytes.
        case memory(min: Int, max: Int)
        case bool
        case enumeration([String])
        case string
        /// Free-form list of words (bind): kept as given, words separated by spaces.
        case words
        /// `save` points: pairs of seconds and changes, or empty.
        case savePoints
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: String
    public let mutable: Bool
    /// What the directive does, one line (conf/tagcache.conf says more).
    public let summary: String

    public init(_ name: String, _ kind: Kind, _ defaultValue: String, mutable: Bool = true, _ summary: String = "") {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.mutable = mutable
        self.summary = summary
    }

    /// Parses a raw value into its shown form, or returns the reason it is bad (Redis's words).
    public func normalize(_ raw: String) -> Result<String, ConfigError> {
        switch kind {
        case let .integer(lo, hi):
            guard let v = parseRedisInteger(raw) else { return .failure(.message("argument couldn't be parsed into an integer")) }
            if v < lo || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(v))
        case let .clampedInteger(lo, hi, clampLo, clampHi):
            guard let v = parseRedisInteger(raw) else { return .failure(.message("argument couldn't be parsed into an integer")) }
            if v < lo || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(min(max(v, clampLo), clampHi)))
        case let .memory(lo, hi):
            guard let v = parseMemory(raw) else { return .failure(.message("argument must be a memory value")) }
            if v < lo || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(v))
        case .bool:
            switch raw.lowercased() {
            case "yes": return .success("yes")
            case "no": return .success("no")
            default: return .failure(.message("argument must be 'yes' or 'no'"))
            }
        case let .enumeration(options):
            let l = raw.lowercased()
            if options.contains(l) { return .success(l) }
            return .failure(.message("argument(s) must be one of the following: \(options.joined(separator: ", "))"))
        case .string, .words:
            return .success(raw)
        case .savePoints:
            let words = raw.split(separator: " ", omittingEmptySubsequences: true)
            if words.count % 2 != 0 { return .failure(.message("Invalid save parameters")) }
            var points: [String] = []
            for w in words {
                guard let v = parseRedisInteger(String(w)), v >= 0 else { return .failure(.message("Invalid save parameters")) }
                points.append(String(v))
            }
            return .success(points.joined(separator: " "))
        }
    }
}

public enum ConfigError: Error, Equatable {
    case message(String)
}

/// Parses Redis's memory notation: digits with an optional unit b, k, kb, m, mb, g, gb.
public func parseMemory(_ s: String) -> Int? {
    let l = s.lowercased()
    let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000),
                                  ("m", 1_000_000), ("k", 1000), ("b", 1)]
    var number = l
    var mul = 1
    for (u, m) in units where l.hasSuffix(u) {
        number = String(l.dropLast(u.count))
        mul = m
        break
    }
    guard let v = parseRedisInteger(number) else { return nil }
    let (r, o) = v.multipliedReportingOverflow(by: mul)
    return o ? nil : r
}

private func parseRedisInteger(_ s: String) -> Int? {
    var s = s
    return s.withUTF8 { RESP.parseRedisInteger($0) }
}

/// The server's configuration: every directive's current value, changed by the config file,
/// command-line flags and CONFIG SET.
public final class Config: @unchecked Sendable {
    public static let directives: [Directive] = [
        Directive("bind", .words, "127.0.0.1", mutable: false, "addresses to listen on"),
        Directive("port", .integer(min: 0, max: 65535), "6379", mutable: false, "TCP port; 0 picks a free one"),
        Directive("tcp-backlog", .integer(min: 0, max: Int(Int32.max)), "511", mutable: false, "listen(2) backlog"),
        Directive("requirepass", .string, "", "password for AUTH; empty = none"),
        Directive("databases", .integer(min: 1, max: Int(Int32.max)), "16", mutable: false, "number of databases"),
        Directive("shards", .integer(min: 1, max: 4096), "64", mutable: false, "keyspace shards (rounded up to a power of two)"),
        Directive("event-loops", .integer(min: 0, max: 64), "0", mutable: false, "event loops; 0 = one per core"),
        Directive("maxclients", .integer(min: 1, max: Int(UInt32.max)), "10000", "maximum connected clients"),
        Directive("timeout", .integer(min: 0, max: Int(Int32.max)), "0", "close clients idle this many seconds; 0 = never"),
        Directive("tcp-keepalive", .integer(min: 0, max: Int(Int32.max)), "300", "SO_KEEPALIVE interval in seconds"),
        Directive("proto-max-bulk-len", .memory(min: 1 << 20, max: Int.max), "536870912", "largest bulk string in a request"),
        Directive("proto-max-multibulk-len", .integer(min: 1, max: Int(Int32.max)), "1048576", "most arguments in one request"),
        Directive("client-query-buffer-limit", .memory(min: 1 << 20, max: Int.max), "1073741824", "most unprocessed input per client"),
        Directive("client-output-backpressure", .memory(min: 1 << 14, max: Int.max), "4194304", "stop reading a client whose unsent replies exceed this"),
        Directive("loglevel", .enumeration(["debug", "verbose", "notice", "warning", "nothing"]), "notice", "log verbosity"),
        Directive("logfile", .string, "", mutable: false, "log file; empty = standard output"),
        Directive("hz", .clampedInteger(min: 0, max: Int(Int32.max), lo: 1, hi: 500), "10", "background task frequency (active expiry, timeouts)"),
        Directive("enable-debug-command", .enumeration(["no", "yes", "local"]), "no", mutable: false, "allow DEBUG"),
        Directive("daemonize", .bool, "no", mutable: false, "accepted for compatibility; TagCache stays in the foreground"),
        Directive("pidfile", .string, "", mutable: false, "write the process id here"),
        Directive("save", .savePoints, "", "accepted for compatibility; TagCache keeps no snapshot"),
        Directive("appendonly", .bool, "no", "accepted for compatibility; TagCache keeps no log"),
        Directive("protected-mode", .bool, "yes", "accepted for compatibility"),
        Directive("maxmemory", .memory(min: 0, max: Int.max), "0", "accepted; eviction comes with a later release"),
        Directive("maxmemory-policy", .enumeration(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
                  "noeviction", "accepted; eviction comes with a later release"),
    ]

    private var values: [String: String] = [:]
    private let lock = ShardLock()
    /// Absolute path of the configuration file the server was started with (CONFIG REWRITE
    /// writes it back), or nil.
    public internal(set) var configFile: String?

    public init() {
        for d in Config.directives { values[d.name] = d.defaultValue }
    }

    public static func directive(_ name: String) -> Directive? {
        let l = name.lowercased()
        return directives.first { $0.name == l }
    }

    public func get(_ name: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        return values[name] ?? ""
    }

    public func int(_ name: String) -> Int { Int(get(name)) ?? 0 }
    public func bool(_ name: String) -> Bool { get(name) == "yes" }

    /// Sets a directive from its raw text; returns the error Redis would give.
    public func set(_ name: String, _ raw: String, atStartup: Bool) -> Result<Void, ConfigError> {
        guard let d = Config.directive(name) else { return .failure(.message("unknown")) }
        if !atStartup && !d.mutable { return .failure(.message("can't set immutable config")) }
        switch d.normalize(raw) {
        case let .failure(e): return .failure(e)
        case let .success(v):
            lock.lock()
            values[d.name] = v
            lock.unlock()
            return .success(())
        }
    }

    /// Every (name, value), sorted by name.
    public func all() -> [(String, String)] {
        lock.lock()
        defer { lock.unlock() }
        return values.sorted { $0.key < $1.key }
    }
}

