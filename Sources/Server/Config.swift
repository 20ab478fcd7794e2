import Commands
import Store

/// The server's configuration: every directive's current value, changed by the config file,
/// command-line flags and CONFIG SET.
public final class Config: Sendable {
    /// TagCache's own directives; `redisCompatibilityDirectives` (Config+RedisCompatibility.swift)
    /// adds the Redis 7 parameters TagCache accepts without using them.
    static let serverDirectives: [Directive] = [
        Directive("bind", .words(.any), "127.0.0.1", mutable: false, "addresses to listen on"),
        Directive("port", .integer(min: 0, max: 65535), "6379", mutable: false, "TCP port; 0 picks a free one"),
        Directive("tcp-backlog", .integer(min: 0, max: Int(Int32.max)), "511", mutable: false, "listen(2) backlog"),
        Directive("requirepass", .string(.any), "", "password for AUTH; empty = none"),
        Directive("databases", .integer(min: 1, max: Int(Int32.max)), "16", mutable: false, "number of databases"),
        Directive("shards", .integer(min: 1, max: 4096), "64", mutable: false, "keyspace shards (rounded up to a power of two)"),
        Directive("event-loops", .integer(min: 0, max: 64), "0", mutable: false, "event loops; 0 = one per core"),
        Directive("maxclients", .integer(min: 1, max: Int(UInt32.max)), "10000", "maximum connected clients"),
        Directive("timeout", .integer(min: 0, max: Int(Int32.max)), "0", "close clients idle this many seconds; 0 = never"),
        Directive("tcp-keepalive", .integer(min: 0, max: Int(Int32.max)), "300", "SO_KEEPALIVE interval in seconds"),
        Directive("proto-max-bulk-len", .memory(min: 1 << 20, max: UInt64(Int.max)), "536870912", "largest bulk string in a request"),
        Directive("proto-max-multibulk-len", .integer(min: 1, max: Int(Int32.max)), "1048576", "most arguments in one request"),
        Directive("client-query-buffer-limit", .memory(min: 1 << 20, max: UInt64(Int.max)), "1073741824", "most unprocessed input per client"),
        Directive("client-output-backpressure", .memory(min: 1 << 14, max: UInt64(Int.max)), "4194304", "stop reading a client whose unsent replies exceed this"),
        Directive("count-reply-max-bytes", .memory(min: 0, max: UInt64(Int.max)), String(CountedReply.defaultMaxBytes),
                  "largest reply whose length the request sets, not the data (SRANDMEMBER, HRANDFIELD with a negative count; COMMAND INFO/DOCS names); 0 = no limit"),
        Directive("loglevel", .enumeration(["debug", "verbose", "notice", "warning", "nothing"]), "notice", "log verbosity"),
        Directive("logfile", .string(.any), "", mutable: false, "log file; empty = standard output"),
        Directive("hz", .clampedInteger(min: 0, max: Int(Int32.max), lo: 1, hi: 500), "10", "background task frequency (active expiry, timeouts)"),
        Directive("enable-debug-command", .enumeration(["no", "yes", "local"]), "no", mutable: false, "allow DEBUG"),
        Directive("pidfile", .string(.any), "", mutable: false, "write the process id here"),
        // Redis's maxmemory is an unsigned 64-bit byte count.
        Directive("maxmemory", .memory(min: 0, max: UInt64.max), "0",
                  "memory limit in bytes (used_memory); over it keys are evicted by maxmemory-policy; 0 = no limit"),
        Directive("maxmemory-policy", .enumeration(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
                                                    "allkeys-s3fifo"]),
                  "noeviction", "what to evict over maxmemory: Redis's policies, or allkeys-s3fifo (S3-FIFO, TagCache's extension)"),
        // Statistics (latency-tracking, latency-tracking-info-percentiles, slowlog-log-slower-than
        // and slowlog-max-len are Redis's, listed with the compatibility directives).
        Directive("metrics-port", .integer(min: 0, max: 65535), "0", mutable: false,
                  "serve Prometheus metrics at http://<bind>:<port>/metrics; 0 = off"),
        Directive("stats-prefix-separator", .character, ":",
                  "a key's prefix (INFO keyprefixes, /metrics) is the key up to this character"),
        Directive("stats-prefixes-max", .integer(min: 0, max: 1024), "64",
                  "key prefixes INFO keyprefixes and /metrics report, the busiest by reads; 0 = off"),
    ]

    /// Every directive: TagCache's own, then the Redis compatibility ones.
    public static let directives: [Directive] = serverDirectives + redisCompatibilityDirectives

    /// Every name CONFIG GET and CONFIG SET know (aliases included) -> (directive, that name).
    private static let byName: [String: (directive: Directive, name: String)] = {
        var m: [String: (directive: Directive, name: String)] = [:]
        for d in directives {
            m[d.name] = (d, d.name)
            if let a = d.alias { m[a] = (d, a) }
        }
        return m
    }()

    /// Every name, aliases included, sorted (what `CONFIG GET *` lists).
    public static let allNames: [String] = byName.keys.sorted()

    /// Every directive's value by name: CONFIG SET on one loop, CONFIG GET and INFO on others.
    private let values: Locked<[String: String]>
    /// Absolute path of the configuration file the server was started with (CONFIG REWRITE
    /// writes it back), or nil.
    public internal(set) var configFile: String? {
        get { file.withLock { $0 } }
        set { file.withLock { $0 = newValue } }
    }
    private let file = Locked<String?>(nil)

    public init() {
        var v: [String: String] = [:]
        for d in Config.directives { v[d.name] = d.defaultValue }
        values = Locked(v)
    }

    /// The directive a name (or alias, any case) stands for.
    public static func directive(_ name: String) -> Directive? {
        lookup(name)?.directive
    }

    /// The directive a name stands for, with the name it is known by in lower case: an alias
    /// stays the alias, as Redis names it in CONFIG SET errors and CONFIG GET replies.
    public static func lookup(_ name: String) -> (directive: Directive, name: String)? {
        byName[name.lowercased()]
    }

    /// The current value (a directive's name or alias).
    public func get(_ name: String) -> String {
        let key = Config.lookup(name)?.directive.name ?? name
        return values.withLock { $0[key] ?? "" }
    }

    public func int(_ name: String) -> Int { Int(get(name)) ?? 0 }
    public func bool(_ name: String) -> Bool { get(name) == "yes" }

    /// Sets a directive from its raw text; returns the error Redis would give.
    public func set(_ name: String, _ raw: String, atStartup: Bool) -> Result<Void, ConfigError> {
        guard let d = Config.directive(name) else { return .failure(.message("unknown")) }
        if !atStartup && !d.mutable { return .failure(.message("can't set immutable config")) }
        switch d.normalize(raw, current: get(d.name)) {
        case let .failure(e): return .failure(e)
        case let .success(v):
            store([(d.name, v)])
            return .success(())
        }
    }

    /// Stores already normalized values (by directive name) at once.
    func store(_ normalized: [(String, String)]) {
        values.withLock { for (n, v) in normalized { $0[n] = v } }
    }

    /// Every (name, value) of the directives, sorted by name (aliases not repeated).
    public func all() -> [(String, String)] {
        values.withLock { $0.sorted { $0.key < $1.key } }
    }
}
