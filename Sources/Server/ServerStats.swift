import CTagCacheSys
import Commands
import Glibc
import Store

/// What INFO and /metrics report, as numbers. Each part is read from the event loops' counters,
/// the keyspace or the server the first time a renderer asks for it and then kept, so one INFO
/// or one scrape reads each source once, and an INFO of one section reads only what that
/// section shows. INFO (Info) renders the parts of the sections asked for, /metrics
/// (PrometheusText) all of them; neither reads the other's text.
final class ServerStats {
    private let server: TagCacheServer

    init(_ server: TagCacheServer) { self.server = server }

    private(set) lazy var process = ProcessFigures(server)
    private(set) lazy var clients = ClientFigures(server)
    private(set) lazy var memory = MemoryFigures(server)
    /// The shards' counters (hits, misses, expired, evicted, tag invalidations).
    private(set) lazy var shardCounters = server.keyspace.stats()
    private(set) lazy var activity = ActivityFigures(server, shardCounters, errorReplies: errors.reduce(0) { $0 + $1.1 })
    private(set) lazy var cpu = (sys: tc_cpu_sys_seconds(), user: tc_cpu_user_seconds())
    private(set) lazy var commands = CommandCounts.gather(server)
    private(set) lazy var latencies = LatencyFigures(server)
    /// Error replies by code, sorted by code.
    private(set) lazy var errors = server.errorStats.snapshot()
    /// Per database, keys, keys with a deadline and their average TTL.
    private(set) lazy var databases = server.keyspace.databaseSummary(averageTTL: true)
    private(set) lazy var tags = server.keyspace.tagSummary()
    private(set) lazy var prefixes = PrefixFigures(server)
    private(set) lazy var slowlog = SlowlogFigures(server.slowlog)
}

/// The process and its configuration (INFO server, persistence, replication).
struct ProcessFigures {
    /// Fixed facts INFO shows and redis_instance_info labels.
    static let mode = "standalone", buildId = "0", role = "master"

    let os: String
    let processId: Int
    let runId: String
    let port: Int
    let uptimeMs: Int64
    let nowUs: Int64
    let hz: Int
    let executable: String
    let configFile: String
    /// The bind addresses as configured.
    let binds: [String]
    let eventLoops: Int
    let shards: Int
    /// "lua-5.1", or why scripting is unavailable.
    let scripting: String
    /// Unix time of the last save (TagCache keeps no snapshot: the start time).
    let lastSaveTime: Int
    let replBacklogSize: Int

    var uptimeSeconds: Int64 { uptimeMs / 1000 }

    init(_ server: TagCacheServer) {
        var u = utsname()
        uname(&u)
        func field<T>(_ v: inout T) -> String {
            withUnsafeBytes(of: &v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        os = "\(field(&u.sysname)) \(field(&u.release)) \(field(&u.machine))"
        processId = Int(getpid())
        runId = server.runId
        port = server.port
        uptimeMs = monotonicMs() - server.startedMonotonicMs
        nowUs = server.keyspace.clock.nowUs()
        hz = server.config[.hz]
        executable = ProcessFigures.executablePath()
        configFile = server.config.configFile ?? ""
        binds = server.config[.bind].split(separator: " ").map(String.init)
        eventLoops = server.loops.count
        shards = server.keyspace.shardCount
        scripting = server.scripts.unavailableReason.map { "unavailable (\($0))" } ?? "lua-5.1"
        lastSaveTime = server.lastSaveTime
        replBacklogSize = server.config[.replBacklogSize]
    }

    private static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, 4095)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : (CommandLine.arguments.first ?? "")
    }
}

/// Connected clients and their buffers (INFO clients).
struct ClientFigures {
    let connected: Int, maxClients: Int
    /// The largest input buffer and the most output pending over the clients.
    let maxInputBuffer: Int, maxOutputBuffer: Int
    /// Clients parked by BLPOP and friends.
    let blocked: Int

    init(_ server: TagCacheServer) {
        (connected, maxInputBuffer, maxOutputBuffer) = server.registry.withClients { list in
            (list.count, list.map { $0.inputCapacity.load(ordering: .relaxed) }.max() ?? 0,
             list.map { $0.outputPending.load(ordering: .relaxed) }.max() ?? 0)
        }
        maxClients = server.settings.value.maxClients
        blocked = server.blockedClients.load(ordering: .relaxed)
    }
}

/// Memory in bytes (INFO memory). used: the store's counted bytes (entries, tables, aggregates,
/// tag indexes; Keyspace.memoryBytes), start-up memory and client buffers. maxmemory is checked
/// against all but the client buffers (mem_not_counted_for_evict).
struct MemoryFigures {
    let used: Int
    let rss: Int
    let peak: Int
    let startup: Int
    /// The store's bytes.
    let dataset: Int
    /// Client buffers and queued transactions.
    let clients: Int
    let system: Int
    let maxmemory: Int
    let policy: String
    /// Lua's heap, the script cache's bytes and scripts (ScriptEngine).
    let lua: Int
    let scripts: Int
    let cachedScripts: Int
    /// The functions engine: its Lua heap, functions, libraries and their bytes.
    let functionsLua: Int
    let functions: Int
    let libraries: Int
    let functionBytes: Int

    var overhead: Int { max(used - dataset, 0) }
    /// rss / used; 0 before anything is used.
    var fragmentationRatio: Double { used > 0 ? Double(rss) / Double(used) : 0 }

    init(_ server: TagCacheServer) {
        dataset = server.keyspace.memoryBytes()
        (lua, scripts, cachedScripts) = server.scripts.memory
        (functionsLua, functions, libraries, functionBytes) = server.scripts.functionMemory
        startup = server.startupMemory
        clients = server.registry.withClients { list in
            list.reduce(0) {
                $0 + $1.inputCapacity.load(ordering: .relaxed) + $1.outputCapacity.load(ordering: .relaxed) + $1.client.multiBytes
            }
        }
        used = startup + dataset + clients
        rss = Int(tc_rss_bytes())
        peak = server.runtime.sampleMemory(used)
        maxmemory = server.config[.maxmemory]
        policy = server.config[.maxmemoryPolicy]
        system = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// The server's counters and rates (INFO stats).
struct ActivityFigures {
    let connectionsReceived: Int
    let commandsProcessed: Int
    let opsPerSecond: Int
    let netInputBytes: Int
    let netOutputBytes: Int
    let inputKbps: Double
    let outputKbps: Double
    let rejectedConnections: Int
    let expiredKeys: Int
    let expiredStalePercent: Double
    let expireTimeCapReached: Int
    let expireCycleMilliseconds: Int
    let evictedKeys: Int
    let evictionExceededTotal: Int64
    let evictionExceededCurrent: Int64
    let hits: Int
    let misses: Int
    /// Error replies: the sum of the error codes' counts.
    let errorReplies: Int

    /// keyspace_hit_rate in percent, nil before any read.
    var hitRate: Double? { hits + misses == 0 ? nil : Double(hits) * 100 / Double(hits + misses) }

    init(_ server: TagCacheServer, _ shards: ShardStats, errorReplies: Int) {
        commandsProcessed = server.total(.commandsProcessed)
        netInputBytes = server.total(.netInputBytes)
        netOutputBytes = server.total(.netOutputBytes)
        let rates = server.runtime.sample(ops: commandsProcessed, netIn: netInputBytes, netOut: netOutputBytes)
        opsPerSecond = Int(rates.opsPerSec.rounded())
        inputKbps = rates.inputKbps
        outputKbps = rates.outputKbps
        connectionsReceived = server.total(.connectionsReceived)
        rejectedConnections = server.total(.rejectedConnections)
        expiredKeys = shards.expiredKeys
        expiredStalePercent = server.keyspace.expiredStalePercent
        expireTimeCapReached = server.keyspace.expireTimeCapReached.load(ordering: .relaxed)
        expireCycleMilliseconds = server.expireCycleMicros.load(ordering: .relaxed) / 1000
        evictedKeys = shards.evictedKeys
        (evictionExceededCurrent, evictionExceededTotal) = server.keyspace.evictionExceeded
        hits = shards.keyspaceHits
        misses = shards.keyspaceMisses
        self.errorReplies = errorReplies
    }
}

/// One command's calls over every loop (INFO commandstats, redis_commands_*).
struct CommandCounts {
    let id: Int
    let name: String
    let calls: Int
    let usec: Int
    let rejected: Int
    let failed: Int

    /// The commands with any call, rejection or failure, in the command table's order.
    static func gather(_ server: TagCacheServer) -> [CommandCounts] {
        server.commands.allSpecs.compactMap { spec in
            var calls = 0, usec = 0, rejected = 0, failed = 0
            for l in server.loops {
                let (c, u, r, f) = l.counters.command(spec.id)
                calls += c; usec += u; rejected += r; failed += f
            }
            if calls == 0 && rejected == 0 && failed == 0 { return nil }
            return CommandCounts(id: spec.id, name: spec.fullName, calls: calls, usec: usec, rejected: rejected, failed: failed)
        }
    }
}

/// Per command latency percentiles in microseconds, from the loops' histograms merged here
/// (INFO latencystats, redis_latency_percentiles_usec); none while latency-tracking is off.
struct LatencyFigures {
    /// latency-tracking-info-percentiles: as shown, and as numbers.
    let percentiles: [(label: String, value: Double)]
    /// Commands with samples, in the command table's order: id, name, the value at each percentile.
    let commands: [(id: Int, name: String, micros: [Double])]

    init(_ server: TagCacheServer) {
        percentiles = server.config[.latencyTrackingInfoPercentiles].split(separator: " ")
            .compactMap { w in Double(w).map { (String(w), $0) } }
        guard server.config[.latencyTracking] else {
            commands = []
            return
        }
        let tpu = LoopCounters.ticksPerMicrosecond
        var merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        var out: [(id: Int, name: String, micros: [Double])] = []
        for spec in server.commands.allSpecs {
            for i in merged.indices { merged[i] = 0 }
            var any = false
            for l in server.loops where l.counters.latencies.add(spec.id, into: &merged) { any = true }
            if !any { continue }
            out.append((spec.id, spec.fullName,
                        percentiles.map { Double(LatencyHistograms.valueAtPercentile(merged, $0.value)) / tpu }))
        }
        commands = out
    }
}

/// TagCache's busiest key prefixes by reads (INFO keyprefixes, tagcache_prefix_*).
struct PrefixFigures {
    /// stats-prefix-separator and stats-prefixes-max.
    let separator: String
    let max: Int
    /// Busiest first, at most `max`.
    let rows: [KeyPrefixRow]
    /// Seconds since the background key count last finished, or -1.
    let keysAgeSeconds: Int

    init(_ server: TagCacheServer) {
        separator = server.config[.statsPrefixSeparator]
        max = server.config[.statsPrefixesMax]
        rows = server.prefixStats.top(server.loops, limit: max)
        keysAgeSeconds = server.prefixStats.lastPassAgeSeconds(nowMs: server.keyspace.clock.nowMs())
    }
}

/// SLOWLOG's figures (redis_slowlog_*).
struct SlowlogFigures {
    let length: Int
    /// The id of the newest entry ever logged, or 0.
    let lastId: Int
    /// The newest entry's duration, or 0.
    let lastMicroseconds: Int

    init(_ slowlog: Slowlog) {
        length = slowlog.length
        lastId = max(slowlog.lastId, 0)
        lastMicroseconds = slowlog.newest(1).first?.microseconds ?? 0
    }
}
