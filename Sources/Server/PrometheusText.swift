import Commands
import Store

/// The /metrics page: Prometheus's text exposition format, rendered from a ServerStats with
/// redis_exporter's metric names, labels and units (seconds, bytes, `_total` for counters; the
/// values INFO shows rounded are exported as rounded), plus SLOWLOG figures and TagCache's
/// key-prefix and tag metrics.
enum PrometheusText {
    static func render(_ s: ServerStats) -> String {
        var out = Exposition()
        let p = s.process, c = s.clients, m = s.memory, a = s.activity
        out.family("redis_up", "gauge", "Information about the Redis instance", [([], "1")])
        out.family("redis_start_time_seconds", "gauge", "Start time of the Redis instance since unix epoch in seconds.",
                   [([], number(Double(p.nowUs / 1000) / 1000 - Double(p.uptimeSeconds)))])
        out.family("redis_instance_info", "gauge", "Information about the Redis instance", [([
            ("role", ProcessFigures.role), ("redis_version", TagCacheVersion.redisVersion),
            ("redis_build_id", ProcessFigures.buildId), ("redis_mode", ProcessFigures.mode),
            ("os", p.os), ("maxmemory_policy", m.policy),
            ("tcp_port", String(p.port)), ("run_id", p.runId),
            ("process_id", String(p.processId)), ("master_replid", p.runId),
            ("tagcache_version", TagCacheVersion.version),
        ], "1")])
        // redis_exporter's metrics of single INFO fields: its name (without redis_), type, value.
        // The zeros are INFO's true zeros (see Info).
        let fields: [(String, String, Double)] = [
            ("uptime_in_seconds", "gauge", Double(p.uptimeSeconds)), ("process_id", "gauge", Double(p.processId)),
            ("connected_clients", "gauge", Double(c.connected)), ("blocked_clients", "gauge", Double(c.blocked)),
            ("tracking_clients", "gauge", 0), ("config_maxclients", "gauge", Double(c.maxClients)),
            ("client_recent_max_input_buffer_bytes", "gauge", Double(c.maxInputBuffer)),
            ("client_recent_max_output_buffer_bytes", "gauge", Double(c.maxOutputBuffer)),
            ("memory_used_bytes", "gauge", Double(m.used)), ("memory_used_rss_bytes", "gauge", Double(m.rss)),
            ("memory_used_peak_bytes", "gauge", Double(m.peak)), ("memory_used_overhead_bytes", "gauge", Double(m.overhead)),
            ("memory_used_startup_bytes", "gauge", Double(m.startup)), ("memory_used_dataset_bytes", "gauge", Double(m.dataset)),
            ("memory_used_scripts_bytes", "gauge", Double(m.scripts)), ("memory_used_lua_bytes", "gauge", Double(m.lua)),
            ("number_of_cached_scripts", "gauge", Double(m.cachedScripts)), ("memory_max_bytes", "gauge", Double(m.maxmemory)),
            ("total_system_memory_bytes", "gauge", Double(m.system)),
            ("mem_fragmentation_ratio", "gauge", rounded2(m.fragmentationRatio)),
            ("mem_fragmentation_bytes", "gauge", Double(m.rss - m.used)),
            ("mem_clients_normal", "gauge", Double(m.clients)), ("mem_clients_slaves", "gauge", 0),
            ("mem_not_counted_for_eviction_bytes", "gauge", Double(m.clients)),
            ("lazyfree_pending_objects", "gauge", 0), ("active_defrag_running", "gauge", 0),
            ("loading_dump_file", "gauge", 0), ("rdb_bgsave_in_progress", "gauge", 0),
            ("rdb_last_save_timestamp_seconds", "gauge", Double(p.lastSaveTime)), ("aof_enabled", "gauge", 0),
            ("aof_rewrite_in_progress", "gauge", 0),
            ("instantaneous_ops_per_sec", "gauge", Double(a.opsPerSecond)),
            ("instantaneous_input_kbps", "gauge", rounded2(a.inputKbps)),
            ("instantaneous_output_kbps", "gauge", rounded2(a.outputKbps)),
            ("pubsub_channels", "gauge", 0), ("pubsub_patterns", "gauge", 0),
            ("latest_fork_usec", "gauge", 0), ("connected_slaves", "gauge", 0),
            ("replication_backlog_bytes", "gauge", Double(p.replBacklogSize)), ("repl_backlog_is_active", "gauge", 0),
            ("master_repl_offset", "gauge", 0), ("config_maxmemory", "gauge", Double(m.maxmemory)),
            ("connections_received_total", "counter", Double(a.connectionsReceived)),
            ("commands_processed_total", "counter", Double(a.commandsProcessed)),
            ("rejected_connections_total", "counter", Double(a.rejectedConnections)),
            ("net_input_bytes_total", "counter", Double(a.netInputBytes)),
            ("net_output_bytes_total", "counter", Double(a.netOutputBytes)),
            ("expired_keys_total", "counter", Double(a.expiredKeys)), ("evicted_keys_total", "counter", Double(a.evictedKeys)),
            ("keyspace_hits_total", "counter", Double(a.hits)), ("keyspace_misses_total", "counter", Double(a.misses)),
            ("cpu_sys_seconds_total", "counter", rounded6(s.cpu.sys)), ("cpu_user_seconds_total", "counter", rounded6(s.cpu.user)),
            ("cpu_sys_children_seconds_total", "counter", 0), ("cpu_user_children_seconds_total", "counter", 0),
        ]
        for (name, type, value) in fields {
            out.family("redis_" + name, type, name + " metric", [([], number(value))])
        }

        // Per command (redis_exporter's cmd label).
        let commands = s.commands
        func perCommand(_ value: (CommandCounts) -> String) -> [([(String, String)], String)] {
            commands.map { ([("cmd", $0.name)], value($0)) }
        }
        out.family("redis_commands_total", "counter", "Total number of calls per command", perCommand { String($0.calls) })
        out.family("redis_commands_duration_seconds_total", "counter", "Total amount of time in seconds spent per command",
                   perCommand { number(Double($0.usec) / 1e6) })
        out.family("redis_commands_rejected_calls_total", "counter", "Total number of errors prior command execution per command",
                   perCommand { String($0.rejected) })
        out.family("redis_commands_failed_calls_total", "counter", "Total number of errors within command execution per command",
                   perCommand { String($0.failed) })
        let counted = Dictionary(commands.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let percentiles = s.latencies.percentiles
        out.summary("redis_latency_percentiles_usec", "A summary of latency percentile distribution per command",
                    s.latencies.commands.map { cmd in
                        (labels: [("cmd", cmd.name)],
                         quantiles: zip(percentiles, cmd.micros).map { ($0.label, format3($1)) },
                         sum: number(Double(counted[cmd.id]?.usec ?? 0)), count: String(counted[cmd.id]?.calls ?? 0))
                    })

        out.family("redis_errors_total", "counter", "Total number of errors per error type",
                   s.errors.map { ([("err", $0.0)], String($0.1)) })

        let databases = s.databases.enumerated().filter { $0.element.keys > 0 }.map { (label: [("db", "db\($0.offset)")], d: $0.element) }
        out.family("redis_db_keys", "gauge", "Total number of keys by DB", databases.map { ($0.label, String($0.d.keys)) })
        out.family("redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB", databases.map { ($0.label, String($0.d.expires)) })
        out.family("redis_db_avg_ttl_seconds", "gauge", "Avg TTL in seconds",
                   databases.map { ($0.label, number(Double($0.d.averageTTLms) / 1000)) })

        let slow = s.slowlog
        out.family("redis_slowlog_length", "gauge", "Total slowlog", [([], String(slow.length))])
        out.family("redis_slowlog_last_id", "gauge", "Last id of slowlog", [([], String(slow.lastId))])
        out.family("redis_last_slow_execution_duration_seconds", "gauge",
                   "The amount of time needed for last slow execution, in seconds",
                   [([], number(Double(slow.lastMicroseconds) / 1e6))])

        // TagCache's own: the busiest key prefixes and the tag index.
        let rows = s.prefixes.rows
        func perPrefix(_ value: (KeyPrefixRow) -> Int?) -> [([(String, String)], String)] {
            rows.compactMap { r in value(r).map { ([("prefix", escapedPrefix(r.prefix))], String($0)) } }
        }
        out.family("tagcache_prefix_reads_total", "counter",
                   "Key reads (hits + misses) per key prefix, for the busiest prefixes (Space-Saving estimate: an upper bound)",
                   perPrefix { $0.reads })
        out.family("tagcache_prefix_hits_total", "counter", "Key reads that found the key, per key prefix (since the prefix entered the top list)",
                   perPrefix { $0.hits })
        out.family("tagcache_prefix_misses_total", "counter", "Key reads that missed, per key prefix (since the prefix entered the top list)",
                   perPrefix { $0.misses })
        out.family("tagcache_prefix_keys", "gauge", "Keys per key prefix, counted by the last background pass over the keyspace",
                   perPrefix { $0.keys })
        let t = s.tags, counters = s.shardCounters
        let tagMetrics: [(String, String, String, Int)] = [
            ("tagcache_tags", "gauge", "Distinct tags in use", t.tags),
            ("tagcache_tag_links", "gauge", "Key-tag links", t.links),
            ("tagcache_tagged_keys", "gauge", "Keys with at least one tag", t.taggedKeys),
            ("tagcache_tag_index_bytes", "gauge", "Bytes of the tag index", t.indexBytes),
            ("tagcache_tag_invalidations_total", "counter", "Tags invalidated by TAG.INVALIDATE", counters.tagInvalidations),
            ("tagcache_keys_invalidated_total", "counter", "Keys deleted by tag invalidation", counters.keysInvalidated),
        ]
        for (name, type, help, value) in tagMetrics { out.family(name, type, help, [([], String(value))]) }
        return out.text
    }

    /// What INFO's "%.2f" reads back as (Prometheus gets the value INFO shows).
    static func rounded2(_ v: Double) -> Double {
        v.isFinite ? (v < 0 ? -1 : 1) * Double(Int((abs(v) * 100).rounded())) / 100 : v
    }

    /// What INFO's "%ld.%06ld" of seconds reads back as.
    static func rounded6(_ v: Double) -> Double {
        Double(Int((v * 1_000_000).rounded())) / 1_000_000
    }

    /// A sample value: integers without a fraction, others in Swift's shortest round-trip form.
    static func number(_ d: Double) -> String {
        if d.isFinite && d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d < 0 ? "-Inf" : "+Inf"))
    }
}

/// Accumulates metric families in the text format.
struct Exposition {
    var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [([(String, String)], String)]) {
        text += "# HELP \(name) \(escape(help, quotes: false))\n# TYPE \(name) \(type)\n"
        for (labels, value) in samples { text += name + labelText(labels) + " " + value + "\n" }
    }

    /// A summary: per series (labels), a sample per quantile (label value), then _sum and _count.
    mutating func summary(_ name: String, _ help: String,
                          _ series: [(labels: [(String, String)], quantiles: [(String, String)], sum: String, count: String)]) {
        text += "# HELP \(name) \(escape(help, quotes: false))\n# TYPE \(name) summary\n"
        for s in series {
            for (q, value) in s.quantiles { text += name + labelText(s.labels + [("quantile", q)]) + " " + value + "\n" }
            text += name + "_sum" + labelText(s.labels) + " " + s.sum + "\n"
            text += name + "_count" + labelText(s.labels) + " " + s.count + "\n"
        }
    }

    private func labelText(_ labels: [(String, String)]) -> String {
        if labels.isEmpty { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escape($0.1, quotes: true))\"" }.joined(separator: ",") + "}"
    }

    /// Backslashes and newlines escaped, and in a label value double quotes too.
    private func escape(_ s: String, quotes: Bool) -> String {
        var o = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": o += "\\\\"
            case "\"" where quotes: o += "\\\""
            case "\n": o += "\\n"
            default: o.unicodeScalars.append(c)
            }
        }
        return o
    }
}
