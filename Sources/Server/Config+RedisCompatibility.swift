import CTagCacheSys
import Glibc

// The compatibility directives TagCache reads, each declared once with the type it reads.
extension Directive.Integer {
    public static let slowlogLogSlowerThan = Self("slowlog-log-slower-than", .integer(min: -1, max: Int.max), "10000",
                                                  "slow log threshold in microseconds (SLOWLOG); -1 = off")
    public static let slowlogMaxLen = Self("slowlog-max-len", .integer(min: 0, max: Int.max), "128", "entries SLOWLOG keeps")
    public static let maxmemorySamples = Self("maxmemory-samples", .integer(min: 1, max: Int(Int32.max)), "5",
                                              "keys sampled per eviction round (LRU, LFU, TTL policies)")
    public static let lfuLogFactor = Self("lfu-log-factor", .integer(min: 0, max: Int(Int32.max)), "10", "LFU counter logarithm factor")
    public static let lfuDecayTime = Self("lfu-decay-time", .integer(min: 0, max: Int(Int32.max)), "1",
                                          "minutes per LFU counter decrement of an idle key")
    /// Past this many ms a script is busy: other clients get -BUSY, SCRIPT KILL may stop it.
    public static let busyReplyThreshold = Self("busy-reply-threshold", alias: "lua-time-limit", .integer(min: 0, max: Int.max), "5000",
                                                "ms a script runs before other clients get -BUSY and SCRIPT KILL can stop it; 0 = never")
    /// Shown by INFO replication (repl_backlog_size).
    public static let replBacklogSize = Self("repl-backlog-size", .memory(min: 1, max: UInt64(Int.max)), "1048576",
                                             unused("replication backlog size"))
}

extension Directive.Flag {
    public static let latencyTracking = Self("latency-tracking", .bool, "yes", "per-command latency percentiles in INFO latencystats")
    public static let protectedMode = Self("protected-mode", .bool, "yes",
                                           "without a password, serve only clients connecting from 127.0.0.1 or ::1 (as Redis 7)")
}

extension Directive.Text {
    public static let latencyTrackingInfoPercentiles = Self("latency-tracking-info-percentiles", .words(.percentiles), "50 99 99.9",
                                                            "percentiles INFO latencystats shows")
    public static let enableProtectedConfigs = Self("enable-protected-configs", .enumeration(["no", "yes", "local"]), "no",
                                                    mutable: false,
                                                    "allow CONFIG SET of dir and dbfilename (\"local\" is taken as \"yes\")")
    public static let masterauth = Self("masterauth", .string(.any), "", secret: true, unused("password for the master"))
    /// Redis keeps it out of its logs with the passwords (SENSITIVE_CONFIG).
    public static let masteruser = Self("masteruser", .string(.any), "", secret: true, unused("user for the master"))
}

/// The Redis 7 parameters that clients, tools and test suites read, save and restore with
/// CONFIG GET / CONFIG SET (a test suite saves `CONFIG GET *` and sets every value back, a
/// dashboard reads notify-keyspace-events or the encoding thresholds). TagCache accepts them,
/// checks their values the way Redis 7.0 does (same error words), keeps and shows them, and
/// acts only on those declared typed above.
///
/// Left out on purpose, so that a configuration asking for them fails loudly instead of being
/// silently ignored: TLS (tls-*), the cluster bus (cluster-* but cluster-enabled, which only
/// accepts "no"), ACL files, unix sockets, replicaof, syslog, shutdown-on-sig*. Redis 7.2's
/// set-max-listpack-* are here because TagCache reports version 7.2.
extension Config {
    static let redisCompatibilityDirectives: [Directive] = {
        let int32 = Int(Int32.max)
        let long = Int.max
        return [
            // Persistence: TagCache keeps no snapshot and no log.
            Directive("save", .savePoints, "", unused("snapshot points, pairs of seconds and changes")),
            Directive("appendonly", .bool, "no", unused("append-only file")),
            Directive("appendfsync", .enumeration(["everysec", "always", "no"]), "everysec", unused("append-only file fsync policy")),
            Directive("appendfilename", .string(.baseName(what: "appendfilename", allowEmpty: false, noun: "filename")),
                      "appendonly.aof", mutable: false, unused("append-only file name")),
            Directive("appenddirname", .string(.baseName(what: "appenddirname", allowEmpty: false, noun: "dirname")),
                      "appendonlydir", mutable: false, unused("append-only file directory")),
            Directive("dbfilename", .string(.baseName(what: "dbfilename", allowEmpty: true, noun: "filename")),
                      "dump.rdb", protected: true, unused("snapshot file name")),
            Directive("dir", .string(.directory), Config.startDirectory, protected: true,
                      unused("working directory for snapshots and logs; must exist; TagCache does not chdir")),
            Directive("rdbcompression", .bool, "yes", unused("compress snapshots")),
            Directive("rdbchecksum", .bool, "yes", mutable: false, unused("checksum snapshots")),
            Directive("rdb-del-sync-files", .bool, "no", unused("delete replication snapshots")),
            Directive("rdb-save-incremental-fsync", .bool, "yes", unused("fsync snapshots while writing")),
            Directive("stop-writes-on-bgsave-error", .bool, "yes", unused("refuse writes after a failed snapshot")),
            Directive("aof-rewrite-incremental-fsync", .bool, "yes", unused("fsync the log while rewriting")),
            Directive("no-appendfsync-on-rewrite", .bool, "no", unused("skip fsync during a rewrite")),
            Directive("aof-load-truncated", .bool, "yes", unused("load a truncated log")),
            Directive("aof-use-rdb-preamble", .bool, "yes", unused("snapshot preamble in the log")),
            Directive("aof-timestamp-enabled", .bool, "no", unused("timestamps in the log")),
            Directive("aof-disable-auto-gc", .bool, "no", unused("keep old log files")),
            Directive("auto-aof-rewrite-percentage", .integer(min: 0, max: int32), "100", unused("log growth that triggers a rewrite")),
            Directive("auto-aof-rewrite-min-size", .memory(min: 0, max: UInt64(long)), "67108864", unused("smallest log to rewrite")),
            Directive("sanitize-dump-payload", .enumeration(["no", "yes", "clients"]), "no", unused("check RESTORE payloads")),

            // Encodings of small aggregates.
            Directive("hash-max-listpack-entries", alias: "hash-max-ziplist-entries", .integer(min: 0, max: long), "512",
                      unused("hashes up to this many fields are listpacks")),
            Directive("hash-max-listpack-value", alias: "hash-max-ziplist-value", .memory(min: 0, max: UInt64(long)), "64",
                      unused("hash fields up to this size stay in a listpack")),
            Directive("set-max-intset-entries", .integer(min: 0, max: long), "512", unused("integer sets up to this size are intsets")),
            Directive("set-max-listpack-entries", .integer(min: 0, max: long), "128", unused("7.2: sets up to this many members are listpacks")),
            Directive("set-max-listpack-value", .memory(min: 0, max: UInt64(long)), "64", unused("7.2: set members up to this size stay in a listpack")),
            Directive("zset-max-listpack-entries", alias: "zset-max-ziplist-entries", .integer(min: 0, max: long), "128",
                      unused("sorted sets up to this many members are listpacks")),
            Directive("zset-max-listpack-value", alias: "zset-max-ziplist-value", .memory(min: 0, max: UInt64(long)), "64",
                      unused("sorted set members up to this size stay in a listpack")),
            Directive("list-max-listpack-size", alias: "list-max-ziplist-size", .integer(min: Int(Int32.min), max: int32), "-2",
                      unused("list node size: entries, or -1..-5 for 4kb..64kb")),
            Directive("list-compress-depth", .integer(min: 0, max: int32), "0", unused("uncompressed list nodes at each end")),
            Directive("stream-node-max-bytes", .memory(min: 0, max: UInt64(long)), "4096", unused("stream node size")),
            Directive("stream-node-max-entries", .integer(min: 0, max: long), "100", unused("entries per stream node")),
            Directive("hll-sparse-max-bytes", .memory(min: 0, max: UInt64(long)), "3000", unused("HyperLogLog sparse encoding limit")),

            // Events, latency, slow log.
            Directive("notify-keyspace-events", .string(.keyspaceEvents), "", unused("keyspace notification classes")),
            Directive.Integer.slowlogLogSlowerThan.directive,
            Directive.Integer.slowlogMaxLen.directive,
            Directive("latency-monitor-threshold", .integer(min: 0, max: long), "0", unused("latency monitor threshold in ms")),
            Directive.Flag.latencyTracking.directive,
            Directive.Text.latencyTrackingInfoPercentiles.directive,
            Directive.Integer.busyReplyThreshold.directive,

            // Memory and eviction.
            Directive.Integer.maxmemorySamples.directive,
            Directive("maxmemory-eviction-tenacity", .integer(min: 0, max: 100), "10", unused("eviction effort")),
            Directive("maxmemory-clients", .memoryOrPercent(maxPercent: 100, max: long), "0", unused("memory all clients may use, bytes or % of maxmemory")),
            Directive.Integer.lfuLogFactor.directive,
            Directive.Integer.lfuDecayTime.directive,
            Directive("active-expire-effort", .integer(min: 1, max: 10), "1", unused("active expiry effort; TagCache's deadline index needs none")),
            Directive("lazyfree-lazy-eviction", .bool, "no", unused("free evicted values in the background")),
            Directive("lazyfree-lazy-expire", .bool, "no", unused("free expired values in the background")),
            Directive("lazyfree-lazy-server-del", .bool, "no", unused("free overwritten values in the background")),
            Directive("lazyfree-lazy-user-del", .bool, "no", unused("DEL behaves as UNLINK")),
            Directive("lazyfree-lazy-user-flush", .bool, "no", unused("FLUSHALL/FLUSHDB default to ASYNC")),
            Directive("activerehashing", .bool, "yes", unused("incremental rehashing in the background")),
            // Redis built without its own jemalloc refuses "yes" with these words; TagCache has
            // no defragmentation either.
            Directive("activedefrag", .boolRefusingYes("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"),
                      "no", "active defragmentation; TagCache has none, so only \"no\" is accepted"),
            Directive("active-defrag-ignore-bytes", .memory(min: 1, max: UInt64(long)), "104857600", unused("fragmentation below this is left alone")),
            Directive("active-defrag-threshold-lower", .integer(min: 0, max: 1000), "10", unused("fragmentation % to start defragmenting")),
            Directive("active-defrag-threshold-upper", .integer(min: 0, max: 1000), "100", unused("fragmentation % for full effort")),
            Directive("active-defrag-cycle-min", .integer(min: 1, max: 99), "1", unused("least CPU % for defragmentation")),
            Directive("active-defrag-cycle-max", .integer(min: 1, max: 99), "25", unused("most CPU % for defragmentation")),
            Directive("active-defrag-max-scan-fields", .integer(min: 1, max: long), "1000", unused("fields scanned per defrag step")),
            Directive("jemalloc-bg-thread", .bool, "yes", unused("jemalloc purging thread")),
            Directive("dynamic-hz", .bool, "yes", unused("raise hz with many clients")),
            Directive("tracking-table-max-keys", .integer(min: 0, max: long), "1000000", unused("client-side caching table size")),
            Directive("client-output-buffer-limit", .words(.clientOutputBufferLimit),
                      "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
                      unused("output buffer limits per client class, `class hard soft seconds`; TagCache applies client-output-backpressure instead")),
            Directive("oom-score-adj", .enumerationWithSynonyms(["no", "yes", "relative", "absolute"], shown: ["relative": "yes"]),
                      "no", unused("set the process's oom_score_adj")),
            Directive("oom-score-adj-values", .words(.oomScoreAdjValues), "0 200 800", unused("oom_score_adj for master, replica, child")),
            Directive("disable-thp", .bool, "yes", mutable: false, unused("turn off transparent huge pages")),

            // Replication basics: TagCache has no replicas; these keep tools that set them working.
            Directive("replica-read-only", alias: "slave-read-only", .bool, "yes", unused("replicas refuse writes")),
            Directive("replica-serve-stale-data", alias: "slave-serve-stale-data", .bool, "yes", unused("replicas answer while out of sync")),
            Directive("replica-lazy-flush", alias: "slave-lazy-flush", .bool, "no", unused("replicas flush in the background")),
            Directive("replica-ignore-maxmemory", alias: "slave-ignore-maxmemory", .bool, "yes", unused("replicas do not evict")),
            Directive("replica-priority", alias: "slave-priority", .integer(min: 0, max: int32), "100", unused("promotion priority")),
            Directive("replica-announce-ip", alias: "slave-announce-ip", .string(.any), "", unused("address a replica announces")),
            Directive("replica-announce-port", alias: "slave-announce-port", .integer(min: 0, max: 65535), "0", unused("port a replica announces")),
            Directive("replica-announced", .bool, "yes", unused("sentinel lists this replica")),
            Directive("replica-ignore-disk-write-errors", .bool, "no", unused("replicas go on after a disk error")),
            Directive.Text.masterauth.directive,
            Directive.Text.masteruser.directive,
            Directive("min-replicas-to-write", alias: "min-slaves-to-write", .integer(min: 0, max: int32), "0", unused("replicas needed to accept writes")),
            Directive("min-replicas-max-lag", alias: "min-slaves-max-lag", .integer(min: 0, max: int32), "10", unused("lag allowed for those replicas")),
            Directive.Integer.replBacklogSize.directive,
            Directive("repl-backlog-ttl", .integer(min: 0, max: long), "3600", unused("seconds to keep the backlog without replicas")),
            Directive("repl-timeout", .integer(min: 1, max: int32), "60", unused("replication timeout")),
            Directive("repl-ping-replica-period", alias: "repl-ping-slave-period", .integer(min: 1, max: int32), "10", unused("seconds between pings to replicas")),
            Directive("repl-diskless-sync", .bool, "yes", unused("send snapshots over the socket")),
            Directive("repl-diskless-sync-delay", .integer(min: 0, max: int32), "5", unused("wait for more replicas before a diskless sync")),
            Directive("repl-diskless-sync-max-replicas", .integer(min: 0, max: int32), "0", unused("start a diskless sync at this many replicas")),
            Directive("repl-diskless-load", .enumeration(["disabled", "on-empty-db", "swapdb"]), "disabled", unused("replicas load from the socket")),
            Directive("repl-disable-tcp-nodelay", .bool, "no", unused("TCP_NODELAY off on the replication link")),
            Directive("propagation-error-behavior", .enumeration(["ignore", "panic", "panic-on-replicas"]), "ignore", unused("what a replica does on a failed command")),

            // Process, threads, clients.
            Directive("daemonize", .bool, "no", mutable: false, "accepted for compatibility; TagCache stays in the foreground"),
            Directive.Flag.protectedMode.directive,
            Directive("io-threads", .integer(min: 1, max: 128), "1", mutable: false, unused("I/O threads; TagCache sizes its event loops with event-loops")),
            Directive("io-threads-do-reads", .bool, "no", mutable: false, unused("I/O threads also read")),
            // Only "no": TagCache has no cluster mode, so a file asking for one must not start.
            Directive("cluster-enabled", .enumeration(["no"]), "no", mutable: false, "Redis Cluster mode; TagCache has none, so only \"no\" is accepted"),
            Directive("supervised", .enumeration(["upstart", "systemd", "auto", "no"]), "no", mutable: false, unused("supervision protocol")),
            Directive("set-proc-title", .bool, "yes", mutable: false, unused("rewrite the process title")),
            Directive("proc-title-template", .string(.procTitleTemplate), "{title} {listen-addr} {server-mode}", unused("process title")),
            Directive("always-show-logo", .bool, "no", mutable: false, unused("ASCII logo in the log")),
            Directive("crash-log-enabled", .bool, "yes", unused("stack trace on a crash")),
            Directive("crash-memcheck-enabled", .bool, "yes", unused("memory test on a crash")),
            Directive("shutdown-timeout", .integer(min: 0, max: int32), "10", unused("seconds SHUTDOWN waits for replicas")),
            Directive.Text.enableProtectedConfigs.directive,
            Directive("enable-module-command", .enumeration(["no", "yes", "local"]), "no", mutable: false, unused("allow MODULE")),
            Directive("ignore-warnings", .string(.any), "", unused("startup warnings to silence")),
            Directive("bind-source-addr", .string(.any), "", unused("source address of outgoing connections")),
            Directive("socket-mark-id", .integer(min: 0, max: Int(UInt32.max)), "0", mutable: false, unused("SO_MARK of listening sockets")),
            Directive("server_cpulist", .string(.any), "", mutable: false, unused("CPU affinity of the main thread")),
            Directive("bio_cpulist", .string(.any), "", mutable: false, unused("CPU affinity of background I/O")),
            Directive("aof_rewrite_cpulist", .string(.any), "", mutable: false, unused("CPU affinity of log rewrites")),
            Directive("bgsave_cpulist", .string(.any), "", mutable: false, unused("CPU affinity of snapshots")),
            Directive("acllog-max-len", .integer(min: 0, max: long), "128", unused("ACL LOG length")),
            Directive("acl-pubsub-default", .enumeration(["allchannels", "resetchannels"]), "resetchannels", unused("default pub/sub permissions")),
        ]
    }()

    /// The working directory when the configuration was first read: Redis shows its working
    /// directory as `dir`.
    static let startDirectory: String = {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return RedisCompatibility.resolved(String(cString: p)) ?? String(cString: p)
    }()

}

private func unused(_ what: String) -> String {
    "accepted for compatibility; TagCache does not use it (Redis: \(what))"
}

/// The checks of Redis's special parameters (config.c, notify.c), with its error words.
enum RedisCompatibility {
    static func check(_ raw: String, _ rule: Directive.StringRule, current: String) -> Result<String, ConfigError> {
        switch rule {
        case .any:
            return .success(raw)
        case let .baseName(what, allowEmpty, noun):
            if raw.isEmpty && !allowEmpty { return .failure(.message("\(what) can't be empty")) }
            if raw.contains("/") || raw.contains("\\") {
                return .failure(.message("\(what) can't be a path, just a \(noun)"))
            }
            return .success(raw)
        case .directory:
            return directory(raw, current: current)
        case .keyspaceEvents:
            guard let flags = keyspaceEventFlags(raw) else {
                return .failure(.message("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
            }
            return .success(keyspaceEventString(flags))
        case .procTitleTemplate:
            return validProcTitleTemplate(raw) ? .success(raw)
                : .failure(.message("template format is invalid or contains unknown variables"))
        }
    }

    static func check(_ raw: String, _ rule: Directive.WordsRule, current: String) -> Result<String, ConfigError> {
        switch rule {
        case .any:
            return .success(raw)
        case .clientOutputBufferLimit:
            return clientOutputBufferLimit(splitAtSpaces(raw), current: current)
        case .oomScoreAdjValues:
            let words = splitAtSpaces(raw)
            if words.count != 3 { return .failure(.message("wrong number of arguments")) }
            var out: [String] = []
            for w in words {
                guard let (v, whole) = cStrtoll(w, base: 10), whole, v >= -2000, v <= 2000 else {
                    return .failure(.message("Invalid oom-score-adj-values, elements must be between -2000 and 2000."))
                }
                out.append(String(v))
            }
            return .success(out.joined(separator: " "))
        case .percentiles:
            let words = raw.isEmpty ? [] : splitAtSpaces(raw)
            var out: [String] = []
            for w in words {
                var d = 0.0
                let ok = w.utf8.count > 0 && w.withCString { tc_parse_double($0, strlen($0), &d) } == 1
                if !ok { return .failure(.message("Invalid latency-tracking-info-percentiles parameters")) }
                if d > 100 || d < 0 {
                    return .failure(.message("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"))
                }
                out.append(percentileString(d))
            }
            return .success(out.joined(separator: " "))
        }
    }

    // MARK: notify-keyspace-events

    // Bits in the order Redis prints the class letters; "A" is every class up to "d".
    private static let eventLetters: [(Character, Int)] = [
        ("g", 1 << 2), ("$", 1 << 3), ("l", 1 << 4), ("s", 1 << 5), ("h", 1 << 6), ("z", 1 << 7),
        ("x", 1 << 8), ("e", 1 << 9), ("t", 1 << 10), ("d", 1 << 13), ("n", 1 << 14),
        ("K", 1 << 0), ("E", 1 << 1), ("m", 1 << 12),
    ]
    private static let allClasses = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8)
        | (1 << 9) | (1 << 10) | (1 << 13)

    static func keyspaceEventFlags(_ s: String) -> Int? {
        var flags = 0
        for c in s {
            if c == "A" {
                flags |= allClasses
            } else if let bit = eventLetters.first(where: { $0.0 == c })?.1 {
                flags |= bit
            } else {
                return nil
            }
        }
        return flags
    }

    static func keyspaceEventString(_ flags: Int) -> String {
        var out = ""
        let all = flags & allClasses == allClasses
        if all { out = "A" }
        for (c, bit) in eventLetters where flags & bit != 0 {
            let isClass = bit & (allClasses | (1 << 14)) != 0
            if isClass && all { continue }
            out.append(c)
        }
        return out
    }

    // MARK: client-output-buffer-limit

    private static let bufferClasses = ["normal", "slave", "pubsub"]

    private static func clientOutputBufferLimit(_ words: [String], current: String) -> Result<String, ConfigError> {
        if words.count % 4 != 0 {
            return .failure(.message("Wrong number of arguments in buffer limit configuration."))
        }
        // The current limits, per class, as "hard soft seconds".
        var limits: [String: String] = [:]
        let cur = current.split(separator: " ").map(String.init)
        var i = 0
        while i + 3 < cur.count {
            limits[cur[i]] = cur[(i + 1)...(i + 3)].joined(separator: " ")
            i += 4
        }
        var changed: [String: String] = [:]
        i = 0
        while i < words.count {
            let name: String
            switch words[i].lowercased() {
            case "normal": name = "normal"
            case "slave", "replica": name = "slave"
            case "pubsub": name = "pubsub"
            default:
                return .failure(.message("Invalid client class specified in buffer limit configuration."))
            }
            // Redis reads the seconds with strtoll into an int.
            guard let hard = parseMemory(words[i + 1]), let soft = parseMemory(words[i + 2]),
                  let (secs, whole) = cStrtoll(words[i + 3], base: 10), whole,
                  Int32(truncatingIfNeeded: secs) >= 0 else {
                return .failure(.message("Error in hard, soft or soft_seconds setting in buffer limit configuration."))
            }
            changed[name] = "\(hard) \(soft) \(Int32(truncatingIfNeeded: secs))"
            i += 4
        }
        let out = bufferClasses.map { "\($0) \(changed[$0] ?? limits[$0] ?? "0 0 0")" }
        return .success(out.joined(separator: " "))
    }

    // MARK: latency-tracking-info-percentiles

    /// "%f" with trailing zeros (and a trailing dot) removed, as Redis prints percentiles.
    static func percentileString(_ d: Double) -> String {
        var buf = [CChar](repeating: 0, count: 400)
        let n = withVaList([d]) { vsnprintf(&buf, buf.count, "%f", $0) }
        var s = String(decoding: buf[0..<Int(max(0, min(n, Int32(buf.count - 1))))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    // MARK: dir

    /// Redis changes its working directory (chdir) and shows getcwd(); TagCache checks the
    /// directory the same way and keeps its resolved path, without changing directory.
    private static func directory(_ raw: String, current: String) -> Result<String, ConfigError> {
        // chdir("") fails with ENOENT; a relative path is taken from the current dir.
        if raw.isEmpty { return .failure(.message(String(cString: strerror(ENOENT)))) }
        let path = raw.hasPrefix("/") || current.isEmpty ? raw : current + "/" + raw
        var st = stat()
        if stat(path, &st) != 0 { return .failure(.message(String(cString: strerror(errno)))) }
        if st.st_mode & S_IFMT != S_IFDIR { return .failure(.message(String(cString: strerror(ENOTDIR)))) }
        if access(path, X_OK) != 0 { return .failure(.message(String(cString: strerror(errno)))) }
        return .success(resolved(path) ?? path)
    }

    /// The absolute path without symbolic links, as getcwd() shows it.
    static func resolved(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    // MARK: proc-title-template

    /// Redis's validateProcTitleTemplate: {name} variables it knows ("{{" is a brace), and not
    /// empty once expanded with an empty title.
    static func validProcTitleTemplate(_ t: String) -> Bool {
        let known: [String: String] = ["title": "", "listen-addr": "*:6379", "server-mode": "", "port": "6379",
                                       "tls-port": "0", "unixsocket": "", "config-file": "tagcache.conf"]
        var out = ""
        var rest = Substring(t)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let afterOpen = rest.index(after: open)
            if afterOpen == rest.endIndex { return false }
            if rest[afterOpen] == "{" {
                out += "{"
                rest = rest[rest.index(after: afterOpen)...]
                continue
            }
            guard let close = rest[afterOpen...].firstIndex(of: "}"),
                  let value = known[String(rest[afterOpen..<close])] else { return false }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return !out.trimmingCharacters(in: " ").isEmpty
    }
}
