import Foundation
import Glibc
import XCTest

/// SCAN's guarantee under load: a full iteration returns every key that existed for the whole
/// iteration, while other clients insert and delete enough keys to grow and shrink the tables.
final class ScanGuaranteeTests: XCTestCase {
    func testFullIterationSeesEveryStableKeyWhileTablesResize() throws {
        let s = try TestServer()
        defer { s.stop() }
        let setup = try s.client()
        var batch: [UInt8] = []
        for i in 0..<5000 { batch += TestClient.encode(["SET", "stable:\(i)", "v"]) }
        try setup.send(raw: batch)
        for _ in 0..<5000 { _ = try setup.readReply() }

        // Two writers churn 20,000 keys in and out (pipelined, bounded in time).
        let stop = Stop()
        var writers: [Thread] = []
        for w in 0..<2 {
            let box = Unchecked(try s.client())
            let t = Thread {
                let c = box.value
                var round = 0
                while !stop.isSet && round < 400 {
                    var b: [UInt8] = []
                    let base = (round % 4) * 5000
                    for i in 0..<500 {
                        let k = "churn:\(w):\(base + (round * 500 + i) % 5000)"
                        b += TestClient.encode(round % 8 < 4 ? ["SET", k, "x"] : ["DEL", k])
                    }
                    guard (try? c.send(raw: b)) != nil else { return }
                    for _ in 0..<500 { if (try? c.readReply()) == nil { return } }
                    round += 1
                }
            }
            writers.append(t)
            t.start()
        }

        let scanner = try s.client()
        for pass in 0..<3 {
            var seen = Set<String>()
            var cursor = "0"
            var calls = 0
            repeat {
                let r = try scanner.commandBytes([Array("SCAN".utf8), Array(cursor.utf8), Array("COUNT".utf8), Array("50".utf8)])
                let (next, keys) = try parseScan(r)
                cursor = next
                for k in keys where k.hasPrefix("stable:") { seen.insert(k) }
                calls += 1
            } while cursor != "0" && calls < 100_000
            XCTAssertEqual(cursor, "0", "pass \(pass): iteration did not finish")
            let missing = (0..<5000).filter { !seen.contains("stable:\($0)") }
            XCTAssertTrue(missing.isEmpty, "pass \(pass): SCAN missed \(missing.count) stable keys, e.g. \(missing.prefix(5))")
        }
        stop.set()
        for t in writers { while t.isExecuting { usleep(1000) } }
    }

    /// Reads `*2 $cursor *N $key...` into (cursor, keys).
    func parseScan(_ r: [UInt8]) throws -> (String, [String]) {
        let text = String(decoding: r, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n")
        guard parts.count >= 4, parts[0] == "*2" else { throw TestClientError.malformed(text) }
        let cursor = parts[2]
        var keys: [String] = []
        var i = 4
        while i + 1 < parts.count {
            keys.append(parts[i + 1])
            i += 2
        }
        return (cursor, keys)
    }
}

/// A flag other threads can read.
final class Stop: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

/// Hands a value to another thread in a test (the test owns the synchronization).
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
