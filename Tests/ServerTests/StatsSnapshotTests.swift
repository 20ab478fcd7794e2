@testable import Server
import XCTest

/// INFO and /metrics render one ServerStats: the same figure must come out of both.
final class StatsSnapshotTests: XCTestCase {
    /// INFO field (with the key of its figure, for `a=1,b=2` values) -> the metric (and its
    /// labels) that must show the same number.
    static let sameFigure: [(String, String)] = [
        ("keyspace_hits", "redis_keyspace_hits_total"), ("keyspace_misses", "redis_keyspace_misses_total"),
        ("expired_keys", "redis_expired_keys_total"), ("evicted_keys", "redis_evicted_keys_total"),
        ("total_connections_received", "redis_connections_received_total"),
        ("rejected_connections", "redis_rejected_connections_total"),
        ("connected_clients", "redis_connected_clients"), ("blocked_clients", "redis_blocked_clients"),
        ("maxclients", "redis_config_maxclients"), ("maxmemory", "redis_memory_max_bytes"),
        ("maxmemory", "redis_config_maxmemory"), ("repl_backlog_size", "redis_replication_backlog_bytes"),
        ("rdb_last_save_time", "redis_rdb_last_save_timestamp_seconds"), ("process_id", "redis_process_id"),
        ("tags", "tagcache_tags"), ("tag_links", "tagcache_tag_links"), ("tagged_keys", "tagcache_tagged_keys"),
        ("tag_invalidations", "tagcache_tag_invalidations_total"), ("keys_invalidated", "tagcache_keys_invalidated_total"),
        ("db0.keys", "redis_db_keys{db=\"db0\"}"), ("db0.expires", "redis_db_keys_expiring{db=\"db0\"}"),
        ("db2.keys", "redis_db_keys{db=\"db2\"}"),
        ("cmdstat_get.calls", "redis_commands_total{cmd=\"get\"}"), ("cmdstat_set.calls", "redis_commands_total{cmd=\"set\"}"),
        ("cmdstat_lpush.failed_calls", "redis_commands_failed_calls_total{cmd=\"lpush\"}"),
        ("latency_percentiles_usec_get.p50", "redis_latency_percentiles_usec{cmd=\"get\",quantile=\"50\"}"),
        ("errorstat_ERR.count", "redis_errors_total{err=\"ERR\"}"),
        ("errorstat_WRONGTYPE.count", "redis_errors_total{err=\"WRONGTYPE\"}"),
        ("prefix_user.reads", "tagcache_prefix_reads_total{prefix=\"user\"}"),
        ("prefix_user.misses", "tagcache_prefix_misses_total{prefix=\"user\"}"),
    ]

    func testMetricsShowTheFiguresINFOShows() throws {
        let s = try TestServer(["maxmemory": "100mb", "repl-backlog-size": "2mb"])
        defer { s.stop() }
        let c = try s.client()
        for cmd in [["SET", "user:1", "a"], ["GET", "user:1"], ["GET", "user:2"], ["GET", "user:3"], ["SET", "order:1", "b", "EX", "100"],
                    ["TAG.ADD", "user:1", "t1", "t2"], ["TAG.ADD", "order:1", "t1"], ["TAG.INVALIDATE", "t2"],
                    ["LPUSH", "order:1", "x"], ["NOSUCH"], ["SELECT", "2"], ["SET", "k", "v"], ["SELECT", "0"]] {
            _ = try c.commandBytes(cmd.map { Array($0.utf8) })
        }
        let info = fields(try c.command("INFO", "everything"))
        let metrics = PrometheusText.render(ServerStats(s.server))
        let samples = Dictionary(metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> (String, Double)? in
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { return nil }
            return (String(line[..<space]), v)
        }, uniquingKeysWith: { a, _ in a })
        for (name, metric) in Self.sameFigure {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            guard let shown = info[parts[0]] else { return XCTFail("INFO has no \(parts[0])") }
            let figure = parts.count == 1 ? shown
                : shown.split(separator: ",").first { $0.hasPrefix(parts[1] + "=") }.map { String($0.dropFirst(parts[1].count + 1)) }
            XCTAssertNotNil(samples[metric], metric)
            XCTAssertEqual(figure.flatMap { Double($0) }, samples[metric], "\(name) (\(shown)) vs \(metric)")
        }
        XCTAssertEqual(samples["tagcache_tags"], 1)
        XCTAssertEqual(samples["redis_errors_total{err=\"ERR\"}"], 1)
        XCTAssertEqual(samples["redis_memory_max_bytes"], 104_857_600)
    }

    func testMetricsOfRoundedFieldsAreWhatINFOPrints() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let v = Double.random(in: 0..<1e6, using: &rng) * (Bool.random(using: &rng) ? 1 : 1e-6)
            XCTAssertEqual(PrometheusText.rounded2(v), Double(format2(v)), "\(v)")
            XCTAssertEqual(PrometheusText.rounded6(v), Double(format6(v)), "\(v)")
        }
    }

    /// `field:value` lines of a bulk INFO reply.
    private func fields(_ reply: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in reply.split(separator: "\r\n") where !line.hasPrefix("#") && !line.hasPrefix("$") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return out
    }
}
