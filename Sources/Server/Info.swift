import CTagCacheSys
import Commands
import Glibc
import Store

/// Renders INFO the way Redis 7 lays it out: `# Section` headers, `field:value` lines, CRLF.
struct Info {
    let server: TagCacheServer

    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                  "modules", "errorstats", "cluster", "keyspace"]
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                              "modules", "commandstats", "errorstats", "cluster", "keyspace"]

    func render(_ requested: [String]) -> String {
        var wanted: [String] = []
        if requested.isEmpty { wanted = Info.defaultSections }
        for r in requested {
            switch r {
            case "all", "everything": wanted += Info.allSections
            case "default": wanted += Info.defaultSections
            default: wanted.append(r)
            }
        }
        var seen = Set<String>()
        var parts: [String] = []
        for s in Info.allSections where wanted.contains(s) && seen.insert(s).inserted {
            if let body = section(s) { parts.append(body) }
        }
        return parts.joined(separator: "\r\n")
    }

    private func block(_ title: String, _ fields: [(String, String)]) -> String {
        var s = "# \(title)\r\n"
        for (k, v) in fields { s += "\(k):\(v)\r\n" }
        return s
    }

    private func section(_ name: String) -> String? {
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
                                         ("repl_backlog_size", "1048576"), ("repl_backlog_first_byte_offset", "0"),
                                         ("repl_backlog_histlen", "0")])
        case "cpu":
            let u = tc_cpu_user_seconds(), s = tc_cpu_sys_seconds()
            return block("CPU", [("used_cpu_sys", String(format6(s))), ("used_cpu_user", String(format6(u))),
                                 ("used_cpu_sys_children", "0.000000"), ("used_cpu_user_children", "0.000000"),
                                 ("used_cpu_sys_main_thread", String(format6(s))), ("used_cpu_user_main_thread", String(format6(u)))])
        case "modules": return "# Modules\r\n"
        case "cluster": return block("Cluster", [("cluster_enabled", "0")])
        case "commandstats": return commandStatsSection()
        case "errorstats":
            return block("Errorstats", server.errorStats.snapshot().map { ("errorstat_\($0.0)", "count=\($0.1)") })
        case "keyspace": return keyspaceSection()
        default: return nil
        }
    }

    private func serverSection() -> String {
        var u = utsname()
        uname(&u)
        let os = withUnsafeBytes(of: &u.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) } + " "
            + withUnsafeBytes(of: &u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) } + " "
            + withUnsafeBytes(of: &u.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let uptimeMs = monotonicMs() - server.startedMonotonicMs
        let nowUs = server.keyspace.clock.nowUs()
        return block("Server", [
            ("redis_version", TagCacheVersion.redisVersion),
            ("tagcache_version", TagCacheVersion.version),
            ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"), ("redis_build_id", "0"),
            ("redis_mode", "standalone"), ("os", os), ("arch_bits", "64"),
            ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
            ("process_id", String(getpid())), ("process_supervised", "no"), ("run_id", server.runId),
            ("tcp_port", String(server.port)), ("server_time_usec", String(nowUs)),
            ("uptime_in_seconds", String(uptimeMs / 1000)), ("uptime_in_days", String(uptimeMs / 86_400_000)),
            ("hz", server.config.get("hz")), ("configured_hz", server.config.get("hz")),
            ("lru_clock", String((nowUs / 1_000_000) & 0xFFFFFF)),
            ("executable", CommandLine.arguments.first ?? ""), ("config_file", ""),
            ("io_threads_active", "0"), ("event_loops", String(server.loops.count)),
            ("shards", String(server.keyspace.shardCount)),
        ])
    }

    private func clientsSection() -> String {
        let n = server.registry.count
        return block("Clients", [
            ("connected_clients", String(n)), ("cluster_connections", "0"),
            ("maxclients", String(server.maxClients)),
            ("client_recent_max_input_buffer", "0"), ("client_recent_max_output_buffer", "0"),
            ("blocked_clients", "0"), ("tracking_clients", "0"), ("clients_in_timeout_table", "0"),
        ])
    }

    private func memorySection() -> String {
        let used = Int(tc_malloc_used())
        let rss = Int(tc_rss_bytes())
        let data = server.keyspace.memoryBytes()
        let maxmem = server.config.int("maxmemory")
        return block("Memory", [
            ("used_memory", String(used)), ("used_memory_human", humanBytes(used)),
            ("used_memory_rss", String(rss)), ("used_memory_rss_human", humanBytes(rss)),
            ("used_memory_peak", String(max(used, rss > 0 ? used : 0))), ("used_memory_peak_human", humanBytes(used)),
            ("used_memory_dataset", String(data)),
            ("maxmemory", String(maxmem)), ("maxmemory_human", humanBytes(maxmem)),
            ("maxmemory_policy", server.config.get("maxmemory-policy")),
            ("mem_fragmentation_ratio", used > 0 ? format2(Double(rss) / Double(used)) : "0.00"),
            ("mem_allocator", "libc"),
        ])
    }

    private func persistenceSection() -> String {
        block("Persistence", [
            ("loading", "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"),
            ("current_cow_size_age", "0"), ("current_fork_perc", "0.00"), ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"), ("rdb_changes_since_last_save", "0"), ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(server.startedWallMs / 1000)), ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"), ("rdb_current_bgsave_time_sec", "-1"), ("rdb_saves", "0"),
            ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"), ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"), ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"), ("aof_rewrites", "0"), ("aof_last_write_status", "ok"),
        ])
    }

    private func statsSection() -> String {
        let st = server.keyspace.stats()
        let hits = st.keyspaceHits, misses = st.keyspaceMisses
        let rate = hits + misses == 0 ? "0.00" : format2(Double(hits) * 100 / Double(hits + misses))
        return block("Stats", [
            ("total_connections_received", String(server.total(.connectionsReceived))),
            ("total_commands_processed", String(server.total(.commandsProcessed))),
            ("instantaneous_ops_per_sec", "0"),
            ("total_net_input_bytes", String(server.total(.netInputBytes))),
            ("total_net_output_bytes", String(server.total(.netOutputBytes))),
            ("rejected_connections", String(server.total(.rejectedConnections))),
            ("expired_keys", String(st.expiredKeys)), ("evicted_keys", String(st.evictedKeys)),
            ("keyspace_hits", String(hits)), ("keyspace_misses", String(misses)),
            ("keyspace_hit_rate", rate),
            ("pubsub_channels", "0"), ("pubsub_patterns", "0"),
            ("total_error_replies", String(server.errorStats.snapshot().reduce(0) { $0 + $1.1 })),
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

    private func keyspaceSection() -> String {
        var fields: [(String, String)] = []
        for (db, s) in server.keyspace.keyspaceSummary().enumerated() where s.keys > 0 {
            fields.append(("db\(db)", "keys=\(s.keys),expires=\(s.expires),avg_ttl=0"))
        }
        return block("Keyspace", fields)
    }
}

func format2(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < 2 { s += String(repeating: "0", count: 2 - decimals) }
    } else {
        s += ".00"
    }
    return s
}

func format6(_ v: Double) -> String {
    let whole = Int(v)
    let frac = Int(((v - Double(whole)) * 1_000_000).rounded())
    let f = String(frac)
    return "\(whole).\(String(repeating: "0", count: max(0, 6 - f.count)))\(f)"
}

/// Redis's bytesToHuman: 1.23K, 4.56M ... with two decimals.
func humanBytes(_ n: Int) -> String {
    let d = Double(n)
    if n < 1024 { return "\(n)B" }
    if n < 1 << 20 { return format2(d / 1024) + "K" }
    if n < 1 << 30 { return format2(d / 1048576) + "M" }
    if n < 1 << 40 { return format2(d / 1073741824) + "G" }
    return format2(d / 1099511627776) + "T"
}
