import Store
import Synchronization

/// What the server logs besides starting and stopping, at Redis's levels and mostly in its
/// words: clients connecting and leaving (verbose), CONFIG SET (notice), and every 5 seconds
/// the databases (verbose), the clients, memory and the cron's expiry and eviction (debug).
/// None of it runs per request; at a level that hides a line, its text is never built.
extension TagCacheServer {
    /// Redis's "Client closed connection id=.. addr=.. ..." (the client's CLIENT LIST line),
    /// logged when a client closes its end.
    func clientClosedLogLine(_ c: Connection) -> String {
        "Client closed connection " + String(clientLine(c.published).dropLast())
    }

    /// One line for a CONFIG SET that passed its checks: each directive's new and old value
    /// (passwords are not written to the log).
    func logConfigSet(_ changes: [(directive: Directive, new: String)]) {
        log.notice("CONFIG SET " + changes.map { d, new in
            d.secret ? "\(d.name) (redacted)" : "\(d.name) '\(new)' (was '\(config.value(d))')"
        }.joined(separator: ", "))
    }
}

/// The cron's periodic log lines: every `periodMs` (5 s, as Redis's serverCron) while the level
/// is verbose or debug. Runs on the cron's queue; the lock only makes that explicit.
final class CronLog: Sendable {
    private struct Window {
        var startMs: Int64
        var expired: Int
        var evicted: Int
    }

    static let periodMs: Int64 = 5000
    private let window = Locked<Window?>(nil)

    init() {}

    func tick(_ server: TagCacheServer) {
        let log = server.log
        guard log.enabled(.verbose) else {
            window.withLock { $0 = nil }
            return
        }
        let now = monotonicMs()
        let last = window.withLock { $0 }
        if let last, now - last.startMs < CronLog.periodMs { return }
        // The shard counters are summed only at debug, once a period.
        let stats = log.enabled(.debug) ? server.keyspace.stats() : nil
        window.withLock { $0 = Window(startMs: now, expired: stats?.expiredKeys ?? -1, evicted: stats?.evictedKeys ?? -1) }
        // The first tick at this level starts the first period.
        guard let last else { return }
        for (db, d) in server.keyspace.databaseSummary(averageTTL: false).enumerated() where d.keys > 0 {
            log.verbose("DB \(db): \(d.keys) keys (\(d.expires) volatile) in \(d.slots) slots HT.")
        }
        guard let stats else { return }
        log.debug("\(server.registry.count) clients connected (0 replicas), \(server.keyspace.usedMemory) bytes in use")
        // Without figures from the period's start (the level was verbose then), or after
        // CONFIG RESETSTAT zeroed them, there is no rate to give.
        guard last.expired >= 0, stats.expiredKeys >= last.expired, stats.evictedKeys >= last.evicted else { return }
        let seconds = Double(now - last.startMs) / 1000
        let expired = stats.expiredKeys - last.expired, evicted = stats.evictedKeys - last.evicted
        log.debug("Cron: \(expired) keys expired (\(perSecond(expired, seconds))/s), "
            + "\(evicted) keys evicted (\(perSecond(evicted, seconds))/s) in the last \(format2(seconds)) s")
    }

    private func perSecond(_ n: Int, _ seconds: Double) -> String { format2(Double(n) / max(seconds, 0.001)) }
}
