import Commands
import Store

// TagCache's own directives, each declared once with the type the server reads it as.
extension Directive.Integer {
    public static let port = Self("port", .integer(min: 0, max: 65535), "6379", mutable: false, "TCP port; 0 picks a free one")
    public static let tcpBacklog = Self("tcp-backlog", .integer(min: 0, max: Int(Int32.max)), "511", mutable: false, "listen(2) backlog")
    public static let databases = Self("databases", .integer(min: 1, max: Int(Int32.max)), "16", mutable: false, "number of databases")
    public static let shards = Self("shards", .integer(min: 1, max: 4096), "64", mutable: false,
                                    "keyspace shards (rounded up to a power of two)")
    public static let eventLoops = Self("event-loops", .integer(min: 0, max: 64), "0", mutable: false, "event loops; 0 = one per two usable cores (affinity mask and cgroup CPU quota), at least one")
    public static let maxclients = Self("maxclients", .integer(min: 1, max: Int(UInt32.max)), "10000", "maximum connected clients")
    public static let timeout = Self("timeout", .integer(min: 0, max: Int(Int32.max)), "0",
                                     "close clients idle this many seconds; 0 = never")
    public static let tcpKeepalive = Self("tcp-keepalive", .integer(min: 0, max: Int(Int32.max)), "300", "SO_KEEPALIVE interval in seconds")
    public static let protoMaxBulkLen = Self("proto-max-bulk-len", .memory(min: 1 << 20, max: UInt64(Int.max)), "536870912",
                                             "largest bulk string in a request")
    public static let protoMaxMultibulkLen = Self("proto-max-multibulk-len", .integer(min: 1, max: Int(Int32.max)), "1048576",
                                                  "most arguments in one request")
    public static let clientQueryBufferLimit = Self("client-query-buffer-limit", .memory(min: 1 << 20, max: UInt64(Int.max)),
                                                    "1073741824", "most unprocessed input per client")
    public static let clientOutputBackpressure = Self("client-output-backpressure", .memory(min: 1 << 14, max: UInt64(Int.max)),
                                                      "4194304", "stop reading a client whose unsent replies exceed this")
    public static let countReplyMaxBytes = Self("count-reply-max-bytes", .memory(min: 0, max: UInt64(Int.max)),
                                                String(CountedReply.defaultMaxBytes),
                                                "largest reply whose length the request sets, not the data (SRANDMEMBER, HRANDFIELD with a negative count; COMMAND INFO/DOCS names); 0 = no limit")
    public static let scriptHeapMax = Self("script-heap-max", .memory(min: 0, max: UInt64(Int.max)), "268435456",
                                        "most memory one Lua state (scripts, functions) may allocate while a script runs; past it the script fails with not enough memory; 0 = no limit")
    public static let hz = Self("hz", .clampedInteger(min: 0, max: Int(Int32.max), lo: 1, hi: 500), "10",
                                "background task frequency (active expiry, timeouts)")
    /// Redis's maxmemory is an unsigned 64-bit byte count; one past Int.max reads as 0 (no limit).
    public static let maxmemory = Self("maxmemory", .memory(min: 0, max: UInt64.max), "0",
                                       "memory limit in bytes (used_memory); over it keys are evicted by maxmemory-policy; 0 = no limit")
    public static let metricsPort = Self("metrics-port", .integer(min: 0, max: 65535), "0", mutable: false,
                                         "serve Prometheus metrics at http://<bind>:<port>/metrics; 0 = off")
    public static let statsPrefixesMax = Self("stats-prefixes-max", .integer(min: 0, max: 1024), "64",
                                              "key prefixes INFO keyprefixes and /metrics report, the busiest by reads; 0 = off")
}

extension Directive.Text {
    public static let bind = Self("bind", .words(.any), "127.0.0.1", mutable: false, "addresses to listen on")
    public static let requirepass = Self("requirepass", .string(.any), "", secret: true, "password for AUTH; empty = none")
    public static let loglevel = Self("loglevel", .enumeration(["debug", "verbose", "notice", "warning", "nothing"]), "notice",
                                      "log verbosity")
    public static let logfile = Self("logfile", .string(.any), "", mutable: false, "log file; empty = standard output")
    public static let enableDebugCommand = Self("enable-debug-command", .enumeration(["no", "yes", "local"]), "no", mutable: false,
                                                "allow DEBUG")
    public static let pidfile = Self("pidfile", .string(.any), "", mutable: false, "write the process id here")
    public static let maxmemoryPolicy = Self("maxmemory-policy",
                                             .enumeration(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                           "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
                                                           "allkeys-s3fifo"]),
                                             "noeviction",
                                             "what to evict over maxmemory: Redis's policies, or allkeys-s3fifo (S3-FIFO, TagCache's extension)")
    public static let statsPrefixSeparator = Self("stats-prefix-separator", .character, ":",
                                                  "a key's prefix (INFO keyprefixes, /metrics) is the key up to this character")
}

/// The server's configuration: every directive's current value, changed by the config file,
/// command-line flags and CONFIG SET.
public final class Config: Sendable {
    /// TagCache's own directives; `redisCompatibilityDirectives` (Config+RedisCompatibility.swift)
    /// adds the Redis 7 parameters TagCache accepts, most without using them. The order is the
    /// one CONFIG REWRITE appends them in.
    static let serverDirectives: [any TypedDirective] = [
        Directive.Text.bind, Directive.Integer.port, Directive.Integer.tcpBacklog, Directive.Text.requirepass,
        Directive.Integer.databases, Directive.Integer.shards, Directive.Integer.eventLoops, Directive.Integer.maxclients,
        Directive.Integer.timeout, Directive.Integer.tcpKeepalive, Directive.Integer.protoMaxBulkLen,
        Directive.Integer.protoMaxMultibulkLen, Directive.Integer.clientQueryBufferLimit,
        Directive.Integer.clientOutputBackpressure, Directive.Integer.countReplyMaxBytes, Directive.Integer.scriptHeapMax,
        Directive.Text.loglevel,
        Directive.Text.logfile, Directive.Integer.hz, Directive.Text.enableDebugCommand, Directive.Text.pidfile,
        Directive.Integer.maxmemory, Directive.Text.maxmemoryPolicy,
        // Statistics (latency-tracking, latency-tracking-info-percentiles, slowlog-log-slower-than
        // and slowlog-max-len are Redis's, listed with the compatibility directives).
        Directive.Integer.metricsPort, Directive.Text.statsPrefixSeparator, Directive.Integer.statsPrefixesMax,
    ]

    /// Every directive: TagCache's own, then the Redis compatibility ones.
    public static let directives: [Directive] = serverDirectives.map(\.directive) + redisCompatibilityDirectives

    /// Every name CONFIG GET and CONFIG SET know (aliases included) -> (directive, that name).
    private static let byName: [String: (directive: Directive, name: String)] = {
        var m: [String: (directive: Directive, name: String)] = [:]
        for d in directives {
            m[d.name] = (d, d.name)
            if let a = d.alias { m[a] = (d, a) }
        }
        return m
    }()

    /// Every name, aliases included, sorted, with its directive (what `CONFIG GET *` lists).
    static let named: [(name: String, directive: Directive)] = byName.map { ($0.key, $0.value.directive) }.sorted { $0.name < $1.name }
    public static let allNames: [String] = named.map(\.name)

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

    /// The current value of a number directive.
    public subscript(_ d: Directive.Integer) -> Int { Int(value(d.directive)) ?? 0 }
    public subscript(_ d: Directive.Flag) -> Bool { value(d.directive) == "yes" }
    public subscript(_ d: Directive.Text) -> String { value(d.directive) }

    /// The current value as CONFIG GET shows it.
    public func value(_ d: Directive) -> String {
        let v = values.withLock { $0[d.name] }
        // Only a typed directive left out of the table has no value: a programming error.
        assert(v != nil, "\(d.name) is not in Config.directives")
        return v ?? d.defaultValue
    }

    /// Sets a directive from its raw text (config file, command line); returns the error Redis
    /// would give, "unknown" for a name no directive has.
    public func set(_ name: String, _ raw: String, atStartup: Bool) -> Result<Void, ConfigError> {
        guard let d = Config.directive(name) else { return .failure(.message("unknown")) }
        if !atStartup && !d.mutable { return .failure(.message("can't set immutable config")) }
        switch d.normalize(raw, current: value(d)) {
        case let .failure(e): return .failure(e)
        case let .success(v):
            store([(d, v)])
            return .success(())
        }
    }

    /// Stores already normalized values at once.
    func store(_ normalized: [(Directive, String)]) {
        values.withLock { for (d, v) in normalized { $0[d.name] = v } }
    }
}
