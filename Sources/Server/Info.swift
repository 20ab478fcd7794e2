import Commands
import Store

/// Renders INFO the way Redis 7 lays it out: `# Section` headers, `field:value` lines, CRLF,
/// sections separated by an empty line, from the figures of a ServerStats. Every figure is
/// measured; a field TagCache has no true value for is left out rather than filled with a
/// constant, and the constant zeros left are true (see each section).
enum Info {
    /// Redis 7's default sections exactly; TagCache's own (tags, keyprefixes) come with
    /// `all`/`everything` or by name, so the default INFO stays what Redis prints.
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                  "modules", "errorstats", "cluster", "keyspace"]
    /// `INFO all` and `INFO everything`: the default sections, commandstats, latencystats and
    /// TagCache's keyprefixes (not in the default: it is one line per busy prefix).
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                              "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace", "tags",
                              "keyprefixes"]

    static func render(_ requested: [String], _ stats: ServerStats) -> String {
        var wanted = Set<String>()
        if requested.isEmpty { wanted.formUnion(defaultSections) }
        for r in requested {
            switch r {
            case "all", "everything": wanted.formUnion(allSections)
            case "default": wanted.formUnion(defaultSections)
            default: wanted.insert(r)
            }
        }
        return allSections.filter { wanted.contains($0) }.map { section($0, stats) }.joined(separator: "\r\n")
    }

    private static func block(_ title: String, _ fields: [(String, String)]) -> String {
        var s = "# \(title)\r\n"
        for (k, v) in fields { s += "\(k):\(v)\r\n" }
        return s
    }

    private static func section(_ name: String, _ s: ServerStats) -> String {
        switch name {
        case "server": return block("Server", server(s.process))
        case "clients": return block("Clients", clients(s.clients))
        case "memory": return block("Memory", memory(s.memory))
        case "persistence": return block("Persistence", persistence(lastSaveTime: s.process.lastSaveTime))
        case "stats": return block("Stats", stats(s.activity))
        case "replication":
            let p = s.process
            return block("Replication", [("role", ProcessFigures.role), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                                         ("master_replid", p.runId), ("master_replid2", String(repeating: "0", count: 40)),
                                         ("master_repl_offset", "0"), ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                                         ("repl_backlog_size", String(p.replBacklogSize)), ("repl_backlog_first_byte_offset", "0"),
                                         ("repl_backlog_histlen", "0")])
        case "cpu":
            // TagCache runs its work on several event loops, so there is no main-thread figure.
            return block("CPU", [("used_cpu_sys", format6(s.cpu.sys)), ("used_cpu_user", format6(s.cpu.user)),
                                 ("used_cpu_sys_children", "0.000000"), ("used_cpu_user_children", "0.000000")])
        case "modules": return "# Modules\r\n"
        case "cluster": return block("Cluster", [("cluster_enabled", "0")])
        case "commandstats":
            return block("Commandstats", s.commands.map { c in
                let per = c.calls > 0 ? format2(Double(c.usec) / Double(c.calls)) : "0.00"
                return ("cmdstat_\(c.name)", "calls=\(c.calls),usec=\(c.usec),usec_per_call=\(per),rejected_calls=\(c.rejected),failed_calls=\(c.failed)")
            })
        case "latencystats":
            // p50/p99/p99.9 (latency-tracking-info-percentiles); empty while latency-tracking is off, as in Redis.
            let l = s.latencies
            return block("Latencystats", l.commands.map { c in
                ("latency_percentiles_usec_\(c.name)", zip(l.percentiles, c.micros).map { "p\($0.label)=" + format3($1) }.joined(separator: ","))
            })
        case "keyprefixes": return block("Keyprefixes", keyPrefixes(s.prefixes))
        case "tags":
            let t = s.tags, c = s.shardCounters
            return block("Tags", [
                ("tags", String(t.tags)), ("tag_links", String(t.links)), ("tagged_keys", String(t.taggedKeys)),
                ("tag_index_bytes", String(t.indexBytes)),
                ("tag_invalidations", String(c.tagInvalidations)), ("keys_invalidated", String(c.keysInvalidated)),
            ])
        case "errorstats": return block("Errorstats", s.errors.map { ("errorstat_\($0.0)", "count=\($0.1)") })
        default:
            return block("Keyspace", s.databases.enumerated().filter { $0.element.keys > 0 }.map { db, d in
                ("db\(db)", "keys=\(d.keys),expires=\(d.expires),avg_ttl=\(d.averageTTLms)")
            })
        }
    }

    private static func server(_ p: ProcessFigures) -> [(String, String)] {
        [
            ("redis_version", TagCacheVersion.redisVersion),
            ("tagcache_version", TagCacheVersion.version),
            ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"), ("redis_build_id", ProcessFigures.buildId),
            ("redis_mode", ProcessFigures.mode), ("os", p.os), ("arch_bits", String(Int.bitWidth)),
            ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
            ("process_id", String(p.processId)), ("process_supervised", "no"), ("run_id", p.runId),
            ("tcp_port", String(p.port)), ("server_time_usec", String(p.nowUs)),
            ("uptime_in_seconds", String(p.uptimeSeconds)), ("uptime_in_days", String(p.uptimeMs / 86_400_000)),
            ("hz", String(p.hz)), ("configured_hz", String(p.hz)),
            ("lru_clock", String((p.nowUs / 1_000_000) & 0xFFFFFF)),
            ("executable", p.executable), ("config_file", p.configFile),
            // Redis 7.2's listener0: the TCP listener with every bind address as configured.
            ("io_threads_active", "0"), ("listener0", (["name=tcp"] + p.binds.map { "bind=\($0)" } + ["port=\(p.port)"]).joined(separator: ",")),
            ("event_loops", String(p.eventLoops)), ("shards", String(p.shards)), ("scripting", p.scripting),
        ]
    }

    private static func clients(_ c: ClientFigures) -> [(String, String)] {
        [
            ("connected_clients", String(c.connected)), ("cluster_connections", "0"),
            ("maxclients", String(c.maxClients)),
            ("client_recent_max_input_buffer", String(c.maxInputBuffer)), ("client_recent_max_output_buffer", String(c.maxOutputBuffer)),
            ("blocked_clients", String(c.blocked)), ("tracking_clients", "0"),
            ("pubsub_clients", "0"),
        ]
    }

    /// TagCache has no replication or append-only log: their memory is truly zero. Lua's is the
    /// scripting engine's (ScriptEngine).
    private static func memory(_ m: MemoryFigures) -> [(String, String)] {
        let net = m.used - m.startup
        return [
            ("used_memory", String(m.used)), ("used_memory_human", humanBytes(m.used)),
            ("used_memory_rss", String(m.rss)), ("used_memory_rss_human", humanBytes(m.rss)),
            ("used_memory_peak", String(m.peak)), ("used_memory_peak_human", humanBytes(m.peak)),
            ("used_memory_peak_perc", format2(m.peak > 0 ? Double(m.used) * 100 / Double(m.peak) : 0) + "%"),
            ("used_memory_overhead", String(m.overhead)), ("used_memory_startup", String(m.startup)),
            ("used_memory_dataset", String(m.dataset)),
            ("used_memory_dataset_perc", format2(net > 0 ? Double(m.dataset) * 100 / Double(net) : 0) + "%"),
            ("total_system_memory", String(m.system)), ("total_system_memory_human", humanBytes(m.system)),
            ("used_memory_lua", String(m.lua)), ("used_memory_vm_eval", String(m.lua)),
            ("used_memory_lua_human", humanBytes(m.lua)), ("used_memory_scripts_eval", String(m.scripts)),
            ("number_of_cached_scripts", String(m.cachedScripts)), ("number_of_functions", String(m.functions)),
            ("number_of_libraries", String(m.libraries)),
            ("used_memory_vm_functions", String(m.functionsLua)), ("used_memory_vm_total", String(m.lua + m.functionsLua)),
            ("used_memory_vm_total_human", humanBytes(m.lua + m.functionsLua)), ("used_memory_functions", String(m.functionBytes)),
            ("used_memory_scripts", String(m.scripts + m.functionBytes)),
            ("used_memory_scripts_human", humanBytes(m.scripts + m.functionBytes)),
            ("maxmemory", String(m.maxmemory)), ("maxmemory_human", humanBytes(m.maxmemory)),
            ("maxmemory_policy", m.policy),
            ("mem_fragmentation_ratio", format2(m.fragmentationRatio)),
            ("mem_fragmentation_bytes", String(m.rss - m.used)),
            ("mem_not_counted_for_evict", String(m.clients)), ("mem_replication_backlog", "0"), ("mem_total_replication_buffers", "0"),
            ("mem_clients_slaves", "0"), ("mem_clients_normal", String(m.clients)), ("mem_cluster_links", "0"),
            ("mem_aof_buffer", "0"), ("mem_allocator", "libc"), ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", "0"), ("lazyfreed_objects", "0"),
        ]
    }

    /// TagCache keeps no snapshot and no log: nothing was ever saved, loaded or rewritten.
    private static func persistence(lastSaveTime: Int) -> [(String, String)] {
        [
            ("loading", "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"),
            ("current_cow_size_age", "0"), ("current_fork_perc", "0.00"), ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"), ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(lastSaveTime)), ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"), ("rdb_current_bgsave_time_sec", "-1"), ("rdb_saves", "0"),
            ("rdb_last_cow_size", "0"), ("rdb_last_load_keys_expired", "0"), ("rdb_last_load_keys_loaded", "0"),
            ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"), ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"), ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"), ("aof_rewrites", "0"), ("aof_rewrites_consecutive_failures", "0"),
            ("aof_last_write_status", "ok"), ("aof_last_cow_size", "0"), ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ]
    }

    /// Redis 7's stats fields. The zeros are true: TagCache has no replication, pub/sub, fork,
    /// defragmentation, client tracking, I/O threads or RESTORE, and never disconnects a client
    /// for its output (it stops reading it instead). unexpected_error_replies counts, in Redis, the
    /// errors replied to a master or a replica link or while loading the append-only file:
    /// TagCache has none of them, so every error reply goes to a client (total_error_replies).
    private static func stats(_ a: ActivityFigures) -> [(String, String)] {
        [
            ("total_connections_received", String(a.connectionsReceived)),
            ("total_commands_processed", String(a.commandsProcessed)),
            ("instantaneous_ops_per_sec", String(a.opsPerSecond)),
            ("total_net_input_bytes", String(a.netInputBytes)),
            ("total_net_output_bytes", String(a.netOutputBytes)),
            ("total_net_repl_input_bytes", "0"), ("total_net_repl_output_bytes", "0"),
            ("instantaneous_input_kbps", format2(a.inputKbps)),
            ("instantaneous_output_kbps", format2(a.outputKbps)),
            ("instantaneous_input_repl_kbps", "0.00"), ("instantaneous_output_repl_kbps", "0.00"),
            ("rejected_connections", String(a.rejectedConnections)),
            ("sync_full", "0"), ("sync_partial_ok", "0"), ("sync_partial_err", "0"),
            ("expired_keys", String(a.expiredKeys)),
            ("expired_stale_perc", format2(a.expiredStalePercent)),
            ("expired_time_cap_reached_count", String(a.expireTimeCapReached)),
            ("expire_cycle_cpu_milliseconds", String(a.expireCycleMilliseconds)),
            ("evicted_keys", String(a.evictedKeys)), ("evicted_clients", "0"),
            ("total_eviction_exceeded_time", String(a.evictionExceededTotal)),
            ("current_eviction_exceeded_time", String(a.evictionExceededCurrent)),
            ("keyspace_hits", String(a.hits)), ("keyspace_misses", String(a.misses)),
            ("keyspace_hit_rate", a.hitRate.map(format2) ?? "0.00"),
            ("pubsub_channels", "0"), ("pubsub_patterns", "0"), ("pubsubshard_channels", "0"),
            ("latest_fork_usec", "0"), ("total_forks", "0"), ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"), ("active_defrag_hits", "0"), ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"), ("active_defrag_key_misses", "0"), ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"), ("tracking_total_keys", "0"), ("tracking_total_items", "0"),
            ("tracking_total_prefixes", "0"),
            ("unexpected_error_replies", "0"),
            ("total_error_replies", String(a.errorReplies)),
            ("dump_payload_sanitizations", "0"),
            ("io_threaded_reads_processed", "0"), ("io_threaded_writes_processed", "0"),
            ("client_output_buffer_limit_disconnections", "0"),
        ]
    }

    /// TagCache's busiest key prefixes by reads (stats-prefixes-max of them; the key up to the
    /// first stats-prefix-separator). keys: counted by the last background pass over the keyspace
    /// (absent until one has run); reads: hits + misses, a Space-Saving count that may include
    /// reads of prefixes it displaced; hits, misses, hit_rate: since the prefix entered the list.
    private static func keyPrefixes(_ p: PrefixFigures) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("keyprefix_separator", p.separator),
            ("keyprefixes_max", String(p.max)), ("keyprefixes_tracked", String(p.rows.count)),
            ("keyprefix_keys_age_seconds", String(p.keysAgeSeconds)),
        ]
        for r in p.rows {
            let total = r.hits + r.misses
            let rate = total == 0 ? "0.00" : format2(Double(r.hits) * 100 / Double(total))
            let keys = r.keys.map { "keys=\($0)," } ?? ""
            fields.append(("prefix_" + escapedPrefix(r.prefix),
                           "\(keys)reads=\(r.reads),hits=\(r.hits),misses=\(r.misses),hit_rate=\(rate)"))
        }
        return fields
    }
}

/// What INFO measures over time rather than reads off a counter: the instantaneous rates (ops/sec,
/// kbps over roughly the last two seconds, as Redis's 16 samples at 100 ms give) and the memory
/// peak. Sampled whenever INFO runs and by `tick` from the server's cron.
final class ServerRuntime: Sendable {
    private struct Sample { var ms: Int64; var ops: Int; var netIn: Int; var netOut: Int }
    private struct State {
        var samples: [Sample]
        var peakMemory = 0
    }
    private let state: Locked<State>

    init(startedMonotonicMs: Int64) {
        state = Locked(State(samples: [Sample(ms: startedMonotonicMs, ops: 0, netIn: 0, netOut: 0)]))
    }

    /// Records the current totals and returns the rates since the oldest sample of the window.
    func sample(ops: Int, netIn: Int, netOut: Int) -> (opsPerSec: Double, inputKbps: Double, outputKbps: Double) {
        let now = monotonicMs()
        return state.withLock { st in
            st.samples.append(Sample(ms: now, ops: ops, netIn: netIn, netOut: netOut))
            // Keep the newest sample older than the window as the base, so a rate always spans it.
            while st.samples.count > 2 && now - st.samples[1].ms >= 1600 { st.samples.removeFirst() }
            if st.samples.count > 64 { st.samples.removeFirst(st.samples.count - 64) }
            let base = st.samples[0]
            let dt = Double(max(now - base.ms, 1)) / 1000
            return (Double(max(ops - base.ops, 0)) / dt,
                    Double(max(netIn - base.netIn, 0)) / 1024 / dt,
                    Double(max(netOut - base.netOut, 0)) / 1024 / dt)
        }
    }

    /// Records used memory; returns the peak seen so far.
    @discardableResult
    func sampleMemory(_ used: Int) -> Int {
        state.withLock {
            $0.peakMemory = max($0.peakMemory, used)
            return $0.peakMemory
        }
    }

    /// Periodic sampling (call from the server's cron for rates that do not depend on INFO).
    /// The memory peak comes from the counted bytes (one atomic load), not from mallinfo2,
    /// which walks malloc's free lists under its locks (30-43% of the CPU during mass frees
    /// when it was sampled at every tick).
    func tick(_ s: TagCacheServer) {
        _ = sample(ops: s.total(.commandsProcessed), netIn: s.total(.netInputBytes), netOut: s.total(.netOutputBytes))
        sampleMemory(s.keyspace.usedMemory)
    }

    func resetPeak() {
        state.withLock { $0.peakMemory = 0 }
    }
}

/// "%.2f" without Foundation.
func format2(_ v: Double) -> String {
    if !v.isFinite { return v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf") }
    let c = Int((abs(v) * 100).rounded())
    let frac = c % 100
    return "\(v < 0 && c != 0 ? "-" : "")\(c / 100).\(frac < 10 ? "0" : "")\(frac)"
}

/// "%.3f" without Foundation.
func format3(_ v: Double) -> String {
    if !v.isFinite { return v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf") }
    let c = Int((abs(v) * 1000).rounded())
    let f = String(c % 1000)
    return "\(v < 0 && c != 0 ? "-" : "")\(c / 1000).\(String(repeating: "0", count: 3 - f.count))\(f)"
}

/// "%ld.%06ld" of seconds, as Redis prints CPU time.
func format6(_ v: Double) -> String {
    let micros = Int((v * 1_000_000).rounded())
    let f = String(micros % 1_000_000)
    return "\(micros / 1_000_000).\(String(repeating: "0", count: 6 - f.count))\(f)"
}

/// Redis's bytesToHuman: 1.23K, 4.56M ... with two decimals.
func humanBytes(_ n: Int) -> String {
    let d = Double(n)
    if n < 1024 { return "\(n)B" }
    if n < 1 << 20 { return format2(d / 1024) + "K" }
    if n < 1 << 30 { return format2(d / 1048576) + "M" }
    if n < 1 << 40 { return format2(d / 1073741824) + "G" }
    if n < 1 << 50 { return format2(d / 1099511627776) + "T" }
    return format2(d / 1125899906842624) + "P"
}
