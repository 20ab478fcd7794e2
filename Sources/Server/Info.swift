import CTagCacheSys
import Commands
import Glibc
import Store

/// Renders INFO the way Redis 7 lays it out: `# Section` headers, `field:value` lines, CRLF,
/// sections separated by an empty line. Every figure is measured; a field TagCache has no true
/// value for is left out rather than filled with a constant.
struct Info {
    let server: TagCacheServer

    /// Redis 7's default sections exactly; TagCache's own (tags, keyprefixes) come with
    /// `all`/`everything` or by name, so the default INFO stays what Redis prints.
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                  "modules", "errorstats", "cluster", "keyspace"]
    /// `INFO all` and `INFO everything`: the default sections, commandstats, latencystats and
    /// TagCache's keyprefixes (not in the default: it is one line per busy prefix).
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                              "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace", "tags",
                              "keyprefixes"]

    func render(_ requested: [String]) -> String {
        var wanted = Set<String>()
        if requested.isEmpty { wanted.formUnion(Info.defaultSections) }
        for r in requested {
            switch r {
            case "all", "everything": wanted.formUnion(Info.allSections)
            case "default": wanted.formUnion(Info.defaultSections)
            default: wanted.insert(r)
            }
        }
        var parts: [String] = []
        for s in Info.allSections where wanted.contains(s) {
            parts.append(section(s))
        }
        return parts.joined(separator: "\r\n")
    }

    private func block(_ title: String, _ fields: [(String, String)]) -> String {
        var s = "# \(title)\r\n"
        for (k, v) in fields { s += "\(k):\(v)\r\n" }
        return s
    }

    private func section(_ name: String) -> String {
        switch name {
        case "server": return serverSection()
        case "clients": return clientsSection()
        case "memory": return memorySection()
        case "persistence": return persistenceSection()
        case "stats": return statsSection()
        case "replication":
            return block("Replication", [("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                                         ("master_replid", server.runId), ("master_replid2", String(repeating: "0", count: 40)),
                                         ("master_repl_offset", "0"), ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                                         ("repl_backlog_size", String(server.config[.replBacklogSize])), ("repl_backlog_first_byte_offset", "0"),
                                         ("repl_backlog_histlen", "0")])
        case "cpu":
            // TagCache runs its work on several event loops, so there is no main-thread figure.
            return block("CPU", [("used_cpu_sys", format6(tc_cpu_sys_seconds())), ("used_cpu_user", format6(tc_cpu_user_seconds())),
                                 ("used_cpu_sys_children", "0.000000"), ("used_cpu_user_children", "0.000000")])
        case "modules": return "# Modules\r\n"
        case "cluster": return block("Cluster", [("cluster_enabled", "0")])
        case "commandstats": return commandStatsSection()
        case "latencystats": return latencyStatsSection()
        case "keyprefixes": return keyPrefixesSection()
        case "tags": return tagsSection()
        case "errorstats":
            return block("Errorstats", server.errorStats.snapshot().map { ("errorstat_\($0.0)", "count=\($0.1)") })
        default: return keyspaceSection()
        }
    }

    private func serverSection() -> String {
        var u = utsname()
        uname(&u)
        func field<T>(_ v: inout T) -> String {
            withUnsafeBytes(of: &v) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        }
        let os = "\(field(&u.sysname)) \(field(&u.release)) \(field(&u.machine))"
        let uptimeMs = monotonicMs() - server.startedMonotonicMs
        let nowUs = server.keyspace.clock.nowUs()
        let hz = String(server.config[.hz])
        return block("Server", [
            ("redis_version", TagCacheVersion.redisVersion),
            ("tagcache_version", TagCacheVersion.version),
            ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"), ("redis_build_id", "0"),
            ("redis_mode", "standalone"), ("os", os), ("arch_bits", String(Int.bitWidth)),
            ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
            ("process_id", String(getpid())), ("process_supervised", "no"), ("run_id", server.runId),
            ("tcp_port", String(server.port)), ("server_time_usec", String(nowUs)),
            ("uptime_in_seconds", String(uptimeMs / 1000)), ("uptime_in_days", String(uptimeMs / 86_400_000)),
            ("hz", hz), ("configured_hz", hz),
            ("lru_clock", String((nowUs / 1_000_000) & 0xFFFFFF)),
            ("executable", executablePath()), ("config_file", server.config.configFile ?? ""),
            ("io_threads_active", "0"), ("listener0", listener()), ("event_loops", String(server.loops.count)),
            ("shards", String(server.keyspace.shardCount)),
        ])
    }

    private func clientsSection() -> String {
        let (count, maxIn, maxOut) = server.registry.withClients { list in
            (list.count, list.map { $0.inputCapacity.load(ordering: .relaxed) }.max() ?? 0,
             list.map { $0.outputPending.load(ordering: .relaxed) }.max() ?? 0)
        }
        return block("Clients", [
            ("connected_clients", String(count)), ("cluster_connections", "0"),
            ("maxclients", String(server.settings.value.maxClients)),
            ("client_recent_max_input_buffer", String(maxIn)), ("client_recent_max_output_buffer", String(maxOut)),
            ("blocked_clients", String(server.blockedClients.load(ordering: .relaxed))), ("tracking_clients", "0"),
            ("pubsub_clients", "0"),
        ])
    }

    private func memorySection() -> String {
        // used_memory: the store's counted bytes (entries, tables, aggregates, tag indexes;
        // Keyspace.memoryBytes), start-up memory and client buffers. maxmemory is checked
        // against all but the client buffers (mem_not_counted_for_evict).
        let data = server.keyspace.memoryBytes()
        let startup = server.startupMemory
        let clients = server.registry.withClients { list in
            list.reduce(0) {
                $0 + $1.inputCapacity.load(ordering: .relaxed) + $1.outputCapacity.load(ordering: .relaxed) + $1.client.multiBytes
            }
        }
        let used = startup + data + clients
        let rss = Int(tc_rss_bytes())
        let peak = server.runtime.sampleMemory(used)
        let overhead = max(used - data, 0)
        let net = used - startup
        let maxmem = server.config[.maxmemory]
        let system = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        // TagCache has no scripting, replication or append-only log: their memory is truly zero.
        return block("Memory", [
            ("used_memory", String(used)), ("used_memory_human", humanBytes(used)),
            ("used_memory_rss", String(rss)), ("used_memory_rss_human", humanBytes(rss)),
            ("used_memory_peak", String(peak)), ("used_memory_peak_human", humanBytes(peak)),
            ("used_memory_peak_perc", format2(peak > 0 ? Double(used) * 100 / Double(peak) : 0) + "%"),
            ("used_memory_overhead", String(overhead)), ("used_memory_startup", String(startup)),
            ("used_memory_dataset", String(data)),
            ("used_memory_dataset_perc", format2(net > 0 ? Double(data) * 100 / Double(net) : 0) + "%"),
            ("total_system_memory", String(system)), ("total_system_memory_human", humanBytes(system)),
            ("used_memory_scripts", "0"), ("used_memory_scripts_human", "0B"), ("number_of_cached_scripts", "0"),
            ("number_of_functions", "0"), ("number_of_libraries", "0"),
            ("maxmemory", String(maxmem)), ("maxmemory_human", humanBytes(maxmem)),
            ("maxmemory_policy", server.config[.maxmemoryPolicy]),
            ("mem_fragmentation_ratio", used > 0 ? format2(Double(rss) / Double(used)) : "0.00"),
            ("mem_fragmentation_bytes", String(rss - used)),
            ("mem_not_counted_for_evict", String(clients)), ("mem_replication_backlog", "0"), ("mem_total_replication_buffers", "0"),
            ("mem_clients_slaves", "0"), ("mem_clients_normal", String(clients)), ("mem_cluster_links", "0"),
            ("mem_aof_buffer", "0"), ("mem_allocator", "libc"), ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", "0"), ("lazyfreed_objects", "0"),
        ])
    }

    /// TagCache keeps no snapshot and no log: nothing was ever saved, loaded or rewritten.
    private func persistenceSection() -> String {
        block("Persistence", [
            ("loading", "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"),
            ("current_cow_size_age", "0"), ("current_fork_perc", "0.00"), ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"), ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(server.lastSaveTime)), ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"), ("rdb_current_bgsave_time_sec", "-1"), ("rdb_saves", "0"),
            ("rdb_last_cow_size", "0"), ("rdb_last_load_keys_expired", "0"), ("rdb_last_load_keys_loaded", "0"),
            ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"), ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"), ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"), ("aof_rewrites", "0"), ("aof_rewrites_consecutive_failures", "0"),
            ("aof_last_write_status", "ok"), ("aof_last_cow_size", "0"), ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ])
    }

    /// Redis 7's stats fields. The zeros are true: TagCache has no replication, pub/sub, fork,
    /// defragmentation, client tracking, I/O threads or RESTORE, and never disconnects a client
    /// for its output (it stops reading it instead).
    private func statsSection() -> String {
        let st = server.keyspace.stats()
        let exceeded = server.keyspace.evictionExceeded
        let hits = st.keyspaceHits, misses = st.keyspaceMisses
        let rate = hits + misses == 0 ? "0.00" : format2(Double(hits) * 100 / Double(hits + misses))
        let ops = server.total(.commandsProcessed)
        let netIn = server.total(.netInputBytes), netOut = server.total(.netOutputBytes)
        let now = server.runtime.sample(ops: ops, netIn: netIn, netOut: netOut)
        let errors = server.errorStats.snapshot().reduce(0) { $0 + $1.1 }
        return block("Stats", [
            ("total_connections_received", String(server.total(.connectionsReceived))),
            ("total_commands_processed", String(ops)),
            ("instantaneous_ops_per_sec", String(Int(now.opsPerSec.rounded()))),
            ("total_net_input_bytes", String(netIn)),
            ("total_net_output_bytes", String(netOut)),
            ("total_net_repl_input_bytes", "0"), ("total_net_repl_output_bytes", "0"),
            ("instantaneous_input_kbps", format2(now.inputKbps)),
            ("instantaneous_output_kbps", format2(now.outputKbps)),
            ("instantaneous_input_repl_kbps", "0.00"), ("instantaneous_output_repl_kbps", "0.00"),
            ("rejected_connections", String(server.total(.rejectedConnections))),
            ("sync_full", "0"), ("sync_partial_ok", "0"), ("sync_partial_err", "0"),
            ("expired_keys", String(st.expiredKeys)),
            ("expired_stale_perc", format2(server.keyspace.expiredStalePercent)),
            ("expired_time_cap_reached_count", String(server.keyspace.expireTimeCapReached.load(ordering: .relaxed))),
            ("expire_cycle_cpu_milliseconds", String(server.expireCycleMicros.load(ordering: .relaxed) / 1000)),
            ("evicted_keys", String(st.evictedKeys)), ("evicted_clients", "0"),
            ("total_eviction_exceeded_time", String(exceeded.total)),
            ("current_eviction_exceeded_time", String(exceeded.current)),
            ("keyspace_hits", String(hits)), ("keyspace_misses", String(misses)),
            ("keyspace_hit_rate", rate),
            ("pubsub_channels", "0"), ("pubsub_patterns", "0"), ("pubsubshard_channels", "0"),
            ("latest_fork_usec", "0"), ("total_forks", "0"), ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"), ("active_defrag_hits", "0"), ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"), ("active_defrag_key_misses", "0"), ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"), ("tracking_total_keys", "0"), ("tracking_total_items", "0"),
            ("tracking_total_prefixes", "0"),
            ("unexpected_error_replies", "0"),
            ("total_error_replies", String(errors)),
            ("dump_payload_sanitizations", "0"),
            ("io_threaded_reads_processed", "0"), ("io_threaded_writes_processed", "0"),
            ("client_output_buffer_limit_disconnections", "0"),
        ])
    }

    private func commandStatsSection() -> String {
        var fields: [(String, String)] = []
        for spec in server.commands.allSpecs {
            var calls = 0, usec = 0, rejected = 0, failed = 0
            for l in server.loops {
                let (c, u, r, f) = l.counters.command(spec.id)
                calls += c; usec += u; rejected += r; failed += f
            }
            if calls == 0 && rejected == 0 && failed == 0 { continue }
            let per = calls > 0 ? format2(Double(usec) / Double(calls)) : "0.00"
            fields.append(("cmdstat_\(spec.fullName)", "calls=\(calls),usec=\(usec),usec_per_call=\(per),rejected_calls=\(rejected),failed_calls=\(failed)"))
        }
        return block("Commandstats", fields)
    }

    /// Per command p50/p99/p99.9 (latency-tracking-info-percentiles) in microseconds, from the
    /// loops' histograms merged here; empty while latency-tracking is off, as in Redis.
    private func latencyStatsSection() -> String {
        guard server.config[.latencyTracking] else { return block("Latencystats", []) }
        let percentiles: [(String, Double)] = server.config[.latencyTrackingInfoPercentiles]
            .split(separator: " ").compactMap { w in Double(w).map { (String(w), $0) } }
        let tpu = LoopCounters.ticksPerMicrosecond
        var fields: [(String, String)] = []
        var merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        for spec in server.commands.allSpecs {
            for i in merged.indices { merged[i] = 0 }
            var any = false
            for l in server.loops where l.counters.latencies.add(spec.id, into: &merged) { any = true }
            if !any { continue }
            let values = percentiles.map { "p\($0.0)=" + format3(Double(LatencyHistograms.valueAtPercentile(merged, $0.1)) / tpu) }
            fields.append(("latency_percentiles_usec_\(spec.fullName)", values.joined(separator: ",")))
        }
        return block("Latencystats", fields)
    }

    /// TagCache's busiest key prefixes by reads (stats-prefixes-max of them; the key up to the
    /// first stats-prefix-separator). keys: counted by the last background pass over the keyspace
    /// (absent until one has run); reads: hits + misses, a Space-Saving count that may include
    /// reads of prefixes it displaced; hits, misses, hit_rate: since the prefix entered the list.
    private func keyPrefixesSection() -> String {
        let limit = server.config[.statsPrefixesMax]
        let rows = server.prefixStats.top(server.loops, limit: limit)
        var fields: [(String, String)] = [
            ("keyprefix_separator", server.config[.statsPrefixSeparator]),
            ("keyprefixes_max", String(limit)), ("keyprefixes_tracked", String(rows.count)),
            ("keyprefix_keys_age_seconds", String(server.prefixStats.lastPassAgeSeconds(nowMs: server.keyspace.clock.nowMs()))),
        ]
        for r in rows {
            let total = r.hits + r.misses
            let rate = total == 0 ? "0.00" : format2(Double(r.hits) * 100 / Double(total))
            let keys = r.keys.map { "keys=\($0)," } ?? ""
            fields.append(("prefix_" + escapedPrefix(r.prefix),
                           "\(keys)reads=\(r.reads),hits=\(r.hits),misses=\(r.misses),hit_rate=\(rate)"))
        }
        return block("Keyprefixes", fields)
    }

    /// Redis 7.2's listener0 field: the TCP listener with every bind address as configured.
    private func listener() -> String {
        let binds = server.config[.bind].split(separator: " ").map { "bind=\($0)" }
        return (["name=tcp"] + binds + ["port=\(server.port)"]).joined(separator: ",")
    }

    private func keyspaceSection() -> String {
        var fields: [(String, String)] = []
        let ks = server.keyspace
        let now = ks.clock.nowMs()
        for db in 0..<ks.databases {
            var keys = 0, expires = 0
            var ttlWeighted = 0.0
            for s in ks.shards {
                s.lock()
                if let t = s.existingTable(db) {
                    keys += t.count
                    expires += t.volatileCount
                    if t.volatileCount > 0, let avg = Info.sampleTTL(t, now: now) {
                        ttlWeighted += avg * Double(t.volatileCount)
                    }
                }
                s.unlock()
            }
            if keys == 0 { continue }
            let avgTTL = expires > 0 ? Int(ttlWeighted / Double(expires)) : 0
            fields.append(("db\(db)", "keys=\(keys),expires=\(expires),avg_ttl=\(avgTTL)"))
        }
        return block("Keyspace", fields)
    }

    /// TagCache's tag index: distinct tags in use (a name held in several shards counts once per
    /// database), key-tag links, tagged keys, the index's bytes (part of used_memory_dataset),
    /// and what TAG.INVALIDATE did.
    private func tagsSection() -> String {
        let ks = server.keyspace
        var distinct = 0, links = 0, keys = 0, bytes = 0, invalidations = 0, invalidated = 0
        for db in 0..<ks.databases {
            // A tag used in several shards is one tag: count names, O(tags) per INFO.
            var names = Set<[UInt8]>()
            for s in ks.shards {
                s.lock()
                if let index = s.existingTable(db)?.tags {
                    links += index.links
                    keys += index.keyCount
                    bytes += index.memoryBytes
                    index.forEachTagName { names.insert(Array($0)); return true }
                }
                s.unlock()
            }
            distinct += names.count
        }
        for s in ks.shards {
            s.lock()
            invalidations += s.stats.tagInvalidations
            invalidated += s.stats.keysInvalidated
            s.unlock()
        }
        return block("Tags", [
            ("tags", String(distinct)), ("tag_links", String(links)), ("tagged_keys", String(keys)),
            ("tag_index_bytes", String(bytes)),
            ("tag_invalidations", String(invalidations)), ("keys_invalidated", String(invalidated)),
        ])
    }

    /// Average remaining TTL (ms) of a table's keys with a deadline: exact for small tables, from
    /// the first `sampleSize` such keys in slot (hash) order otherwise, as Redis also estimates it.
    static func sampleTTL(_ t: Table, now: Int64, sampleSize: Int = 512) -> Double? {
        var sum = 0.0, n = 0
        t.forEachSlot { _, e in
            let d = e.deadline
            if d > now {
                sum += Double(d - now)
                n += 1
            }
            return n < sampleSize
        }
        return n > 0 ? sum / Double(n) : nil
    }

    private func executablePath() -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4095) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : (CommandLine.arguments.first ?? "")
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
