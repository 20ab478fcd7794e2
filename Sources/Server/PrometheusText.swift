import Commands
import Glibc
import Store

/// The /metrics page: Prometheus's text exposition format, built from INFO everything the way
/// redis_exporter reads INFO (same metric names, labels and units: seconds, bytes, `_total` for
/// counters), plus SLOWLOG figures and TagCache's key-prefix and tag metrics.
enum PrometheusText {
    /// INFO field -> redis_exporter gauge name (without the redis_ namespace).
    static let gauges: [(String, String)] = [
        ("uptime_in_seconds", "uptime_in_seconds"), ("process_id", "process_id"),
        ("connected_clients", "connected_clients"), ("blocked_clients", "blocked_clients"),
        ("tracking_clients", "tracking_clients"), ("maxclients", "config_maxclients"),
        ("client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes"),
        ("client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes"),
        ("used_memory", "memory_used_bytes"), ("used_memory_rss", "memory_used_rss_bytes"),
        ("used_memory_peak", "memory_used_peak_bytes"), ("used_memory_overhead", "memory_used_overhead_bytes"),
        ("used_memory_startup", "memory_used_startup_bytes"), ("used_memory_dataset", "memory_used_dataset_bytes"),
        ("used_memory_scripts", "memory_used_scripts_bytes"), ("maxmemory", "memory_max_bytes"),
        ("total_system_memory", "total_system_memory_bytes"),
        ("mem_fragmentation_ratio", "mem_fragmentation_ratio"), ("mem_fragmentation_bytes", "mem_fragmentation_bytes"),
        ("mem_clients_normal", "mem_clients_normal"), ("mem_clients_slaves", "mem_clients_slaves"),
        ("mem_not_counted_for_evict", "mem_not_counted_for_eviction_bytes"),
        ("lazyfree_pending_objects", "lazyfree_pending_objects"), ("active_defrag_running", "active_defrag_running"),
        ("loading", "loading_dump_file"), ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
        ("rdb_last_save_time", "rdb_last_save_timestamp_seconds"), ("aof_enabled", "aof_enabled"),
        ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
        ("instantaneous_ops_per_sec", "instantaneous_ops_per_sec"),
        ("instantaneous_input_kbps", "instantaneous_input_kbps"), ("instantaneous_output_kbps", "instantaneous_output_kbps"),
        ("pubsub_channels", "pubsub_channels"), ("pubsub_patterns", "pubsub_patterns"),
        ("latest_fork_usec", "latest_fork_usec"), ("connected_slaves", "connected_slaves"),
        ("repl_backlog_size", "replication_backlog_bytes"), ("repl_backlog_active", "repl_backlog_is_active"),
        ("master_repl_offset", "master_repl_offset"),
    ]

    /// INFO field -> redis_exporter counter name.
    static let counters: [(String, String)] = [
        ("total_connections_received", "connections_received_total"),
        ("total_commands_processed", "commands_processed_total"),
        ("rejected_connections", "rejected_connections_total"),
        ("total_net_input_bytes", "net_input_bytes_total"), ("total_net_output_bytes", "net_output_bytes_total"),
        ("expired_keys", "expired_keys_total"), ("evicted_keys", "evicted_keys_total"),
        ("keyspace_hits", "keyspace_hits_total"), ("keyspace_misses", "keyspace_misses_total"),
        ("used_cpu_sys", "cpu_sys_seconds_total"), ("used_cpu_user", "cpu_user_seconds_total"),
        ("used_cpu_sys_children", "cpu_sys_children_seconds_total"),
        ("used_cpu_user_children", "cpu_user_children_seconds_total"),
    ]

    /// INFO tags field -> TagCache metric, with its type and help.
    static let tagMetrics: [(String, String, String, String)] = [
        ("tags", "tagcache_tags", "gauge", "Distinct tags in use"),
        ("tag_links", "tagcache_tag_links", "gauge", "Key-tag links"),
        ("tagged_keys", "tagcache_tagged_keys", "gauge", "Keys with at least one tag"),
        ("tag_index_bytes", "tagcache_tag_index_bytes", "gauge", "Bytes of the tag index"),
        ("tag_invalidations", "tagcache_tag_invalidations_total", "counter", "Tags invalidated by TAG.INVALIDATE"),
        ("keys_invalidated", "tagcache_keys_invalidated_total", "counter", "Keys deleted by tag invalidation"),
    ]

    static func render(_ server: TagCacheServer) -> String {
        let info = Info(server: server).render(["everything"])
        var fields: [String: String] = [:]
        var section = ""
        var bySection: [String: [(String, String)]] = [:]
        for raw in info.split(separator: "\r\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("# ") {
                section = String(line.dropFirst(2)).lowercased()
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let k = String(line[..<colon]), v = String(line[line.index(after: colon)...])
            fields[k] = v
            bySection[section, default: []].append((k, v))
        }
        var out = Exposition()
        out.family("redis_up", "gauge", "Information about the Redis instance", [([], "1")])
        let uptime = Double(fields["uptime_in_seconds"] ?? "0") ?? 0
        out.family("redis_start_time_seconds", "gauge", "Start time of the Redis instance since unix epoch in seconds.",
                   [([], number(Double(server.keyspace.clock.nowMs()) / 1000 - uptime))])
        out.family("redis_instance_info", "gauge", "Information about the Redis instance", [([
            ("role", fields["role"] ?? ""), ("redis_version", fields["redis_version"] ?? ""),
            ("redis_build_id", fields["redis_build_id"] ?? ""), ("redis_mode", fields["redis_mode"] ?? ""),
            ("os", fields["os"] ?? ""), ("maxmemory_policy", fields["maxmemory_policy"] ?? ""),
            ("tcp_port", fields["tcp_port"] ?? ""), ("run_id", fields["run_id"] ?? ""),
            ("process_id", fields["process_id"] ?? ""), ("master_replid", fields["master_replid"] ?? ""),
            ("tagcache_version", fields["tagcache_version"] ?? ""),
        ], "1")])
        for (field, name) in gauges {
            if let v = fields[field], let d = Double(v) {
                out.family("redis_" + name, "gauge", name + " metric", [([], number(d))])
            }
        }
        if let v = fields["maxmemory"] {
            out.family("redis_config_maxmemory", "gauge", "config_maxmemory metric", [([], v)])
        }
        for (field, name) in counters {
            if let v = fields[field], let d = Double(v) {
                out.family("redis_" + name, "counter", name + " metric", [([], number(d))])
            }
        }

        // Commandstats and latencystats: per command (redis_exporter's cmd label).
        var calls: [(String, String)] = [], usec: [(String, String)] = [], rejected: [(String, String)] = []
        var failed: [(String, String)] = []
        var callsByCmd: [String: String] = [:], usecByCmd: [String: Double] = [:]
        for (k, v) in bySection["commandstats"] ?? [] where k.hasPrefix("cmdstat_") {
            let cmd = String(k.dropFirst(8))
            let kv = keyValues(v)
            calls.append((cmd, kv["calls"] ?? "0"))
            let us = Double(kv["usec"] ?? "0") ?? 0
            usec.append((cmd, number(us / 1e6)))
            rejected.append((cmd, kv["rejected_calls"] ?? "0"))
            failed.append((cmd, kv["failed_calls"] ?? "0"))
            callsByCmd[cmd] = kv["calls"] ?? "0"
            usecByCmd[cmd] = us
        }
        out.family("redis_commands_total", "counter", "Total number of calls per command", calls.map { ([("cmd", $0.0)], $0.1) })
        out.family("redis_commands_duration_seconds_total", "counter", "Total amount of time in seconds spent per command",
                   usec.map { ([("cmd", $0.0)], $0.1) })
        out.family("redis_commands_rejected_calls_total", "counter", "Total number of errors prior command execution per command",
                   rejected.map { ([("cmd", $0.0)], $0.1) })
        out.family("redis_commands_failed_calls_total", "counter", "Total number of errors within command execution per command",
                   failed.map { ([("cmd", $0.0)], $0.1) })
        var latency: [([(String, String)], String)] = []
        for (k, v) in bySection["latencystats"] ?? [] where k.hasPrefix("latency_percentiles_usec_") {
            let cmd = String(k.dropFirst(25))
            for (p, value) in keyValuesOrdered(v) where p.hasPrefix("p") {
                latency.append(([("cmd", cmd), ("quantile", String(p.dropFirst()))], value))
            }
            latency.append(([("cmd", cmd)], "sum:" + number(usecByCmd[cmd] ?? 0)))
            latency.append(([("cmd", cmd)], "count:" + (callsByCmd[cmd] ?? "0")))
        }
        out.summary("redis_latency_percentiles_usec", "A summary of latency percentile distribution per command", latency)

        var errors: [([(String, String)], String)] = []
        for (k, v) in bySection["errorstats"] ?? [] where k.hasPrefix("errorstat_") {
            errors.append(([("err", String(k.dropFirst(10)))], keyValues(v)["count"] ?? "0"))
        }
        out.family("redis_errors_total", "counter", "Total number of errors per error type", errors)

        var dbKeys: [([(String, String)], String)] = [], dbExpiring: [([(String, String)], String)] = []
        var dbTTL: [([(String, String)], String)] = []
        for (k, v) in bySection["keyspace"] ?? [] where k.hasPrefix("db") {
            let kv = keyValues(v)
            dbKeys.append(([("db", k)], kv["keys"] ?? "0"))
            dbExpiring.append(([("db", k)], kv["expires"] ?? "0"))
            dbTTL.append(([("db", k)], number((Double(kv["avg_ttl"] ?? "0") ?? 0) / 1000)))
        }
        out.family("redis_db_keys", "gauge", "Total number of keys by DB", dbKeys)
        out.family("redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB", dbExpiring)
        out.family("redis_db_avg_ttl_seconds", "gauge", "Avg TTL in seconds", dbTTL)

        let slow = server.slowlog
        let newest = slow.newest(1).first
        out.family("redis_slowlog_length", "gauge", "Total slowlog", [([], String(slow.length))])
        out.family("redis_slowlog_last_id", "gauge", "Last id of slowlog", [([], String(max(slow.lastId, 0)))])
        out.family("redis_last_slow_execution_duration_seconds", "gauge",
                   "The amount of time needed for last slow execution, in seconds",
                   [([], number(Double(newest?.microseconds ?? 0) / 1e6))])

        // TagCache's own: the busiest key prefixes and the tag index.
        let rows = server.prefixStats.top(server.loops, limit: server.config[.statsPrefixesMax])
        out.family("tagcache_prefix_reads_total", "counter",
                   "Key reads (hits + misses) per key prefix, for the busiest prefixes (Space-Saving estimate: an upper bound)",
                   rows.map { ([("prefix", escapedPrefix($0.prefix))], String($0.reads)) })
        out.family("tagcache_prefix_hits_total", "counter", "Key reads that found the key, per key prefix (since the prefix entered the top list)",
                   rows.map { ([("prefix", escapedPrefix($0.prefix))], String($0.hits)) })
        out.family("tagcache_prefix_misses_total", "counter", "Key reads that missed, per key prefix (since the prefix entered the top list)",
                   rows.map { ([("prefix", escapedPrefix($0.prefix))], String($0.misses)) })
        out.family("tagcache_prefix_keys", "gauge", "Keys per key prefix, counted by the last background pass over the keyspace",
                   rows.compactMap { r in r.keys.map { ([("prefix", escapedPrefix(r.prefix))], String($0)) } })
        let tagFields = Dictionary((bySection["tags"] ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for (field, name, type, help) in tagMetrics {
            if let v = tagFields[field], let d = Double(v) { out.family(name, type, help, [([], number(d))]) }
        }
        return out.text
    }

    /// "a=1,b=2" -> [a: 1, b: 2].
    static func keyValues(_ s: String) -> [String: String] {
        Dictionary(keyValuesOrdered(s), uniquingKeysWith: { a, _ in a })
    }

    static func keyValuesOrdered(_ s: String) -> [(String, String)] {
        s.split(separator: ",").compactMap { part -> (String, String)? in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }
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
        text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
        for (labels, value) in samples { text += name + labelText(labels) + " " + value + "\n" }
    }

    /// A summary: samples whose value starts with "sum:" or "count:" go to name_sum / name_count.
    mutating func summary(_ name: String, _ help: String, _ samples: [([(String, String)], String)]) {
        text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) summary\n"
        for (labels, value) in samples {
            if value.hasPrefix("sum:") {
                text += name + "_sum" + labelText(labels) + " " + value.dropFirst(4) + "\n"
            } else if value.hasPrefix("count:") {
                text += name + "_count" + labelText(labels) + " " + value.dropFirst(6) + "\n"
            } else {
                text += name + labelText(labels) + " " + value + "\n"
            }
        }
    }

    private func labelText(_ labels: [(String, String)]) -> String {
        if labels.isEmpty { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    private func escapeLabel(_ s: String) -> String {
        var o = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": o += "\\\\"
            case "\"": o += "\\\""
            case "\n": o += "\\n"
            default: o.unicodeScalars.append(c)
            }
        }
        return o
    }

    private func escapeHelp(_ s: String) -> String {
        var o = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            default: o.unicodeScalars.append(c)
            }
        }
        return o
    }
}
