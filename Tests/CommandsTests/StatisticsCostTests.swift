import Commands
import Foundation
import Glibc
import RESP
import Store
import XCTest

/// What the statistics cost a command on the request path, measured in-process (no sockets, so
/// the figure is the statistics' own CPU time, not noise from the network or other processes):
/// the same pre-parsed GET/SET stream runs through Dispatcher.execute with latency tracking and
/// prefix statistics on, then off, in alternating short trials; the medians are compared.
///
/// A benchmark, not a check: it runs only with TAGCACHE_BENCH=1, and in a release build:
///
///     TAGCACHE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter StatisticsCostTests
final class StatisticsCostTests: XCTestCase {
    func testStatisticsCostPerCommand() throws {
        guard ProcessInfo.processInfo.environment["TAGCACHE_BENCH"] == "1" else {
            throw XCTSkip("a benchmark: run with TAGCACHE_BENCH=1 (see the file's comment)")
        }
        let table = CommandTable.standard()
        let keyspace = Keyspace(shards: 64)
        let reply = ReplyWriter(), client = ClientState(id: 1, authenticated: true, now: 0)
        let counters = LoopCounters(commandSlots: table.allSpecs.count)
        let server = StubServer()
        let ctx = CommandContext(keyspace: keyspace, reply: reply, client: client, table: table, server: server,
                                 counters: counters)
        // 100,000 keys as redis-benchmark names them; the stream is 1 SET for 3 GETs (a quarter miss).
        let requests = 20_000
        var words: [[[UInt8]]] = []
        var rng = SystemRandomNumberGenerator()
        for i in 0..<requests {
            let k = Array("key:\(String(format: "%012d", Int.random(in: 0..<133_333, using: &rng)))".utf8)
            words.append(i % 4 == 0 ? [Array("SET".utf8), k, [UInt8](repeating: 120, count: 32)] : [Array("GET".utf8), k])
        }
        let storage = words.map { $0.map { a -> UnsafeMutableBufferPointer<UInt8> in
            let p = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: a.count)
            _ = p.initialize(from: a)
            return p
        } }
        let spans: [UnsafeMutableBufferPointer<Bytes>] = storage.map { args in
            let s = UnsafeMutableBufferPointer<Bytes>.allocate(capacity: args.count)
            for (i, a) in args.enumerated() { s[i] = UnsafeBufferPointer(a) }
            return s
        }
        defer {
            for s in spans { s.deallocate() }
            for args in storage { for a in args { a.deallocate() } }
        }
        func trial() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let t0 = Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
            for (n, s) in spans.enumerated() {
                if n & 31 == 0 { ctx.now = keyspace.clock.nowMs() }
                Dispatcher.execute(ctx, Arguments(UnsafeBufferPointer(s)))
                if reply.out.readableCount > 1 << 20 { reply.out.clear(shrinkTo: 1 << 22) }
            }
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return (Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec) - t0) / Double(spans.count)
        }
        let sep = UInt8(ascii: ":")
        // (latency tracking, prefixes): both off, latency only, prefixes only, both on.
        let configs = [(false, false), (true, false), (false, true), (true, true)]
        var results = [[Double]](repeating: [], count: configs.count)
        for round in 0..<40 {
            // Rotate which goes first, so drift hits all alike.
            for j in 0..<configs.count {
                let c = (j + round) % configs.count
                counters.configure(latencyTracking: configs[c].0, slowlogMicroseconds: 10_000, prefixSeparator: sep,
                                   prefixes: configs[c].1 ? 64 : 0)
                _ = trial() // the sketch applies its new settings, caches warm up
                results[c].append(trial())
            }
        }
        let m = results.map { $0.sorted()[$0.count / 2] }
        print(String(format: "statistics cost per command (median ns): off %.1f; latency tracking %.1f (+%.1f); prefixes %.1f (+%.1f); both %.1f (+%.1f, %.1f%% of the in-process command)",
                     m[0], m[1], m[1] - m[0], m[2], m[2] - m[0], m[3], m[3] - m[0], (m[3] / m[0] - 1) * 100))
    }
}
