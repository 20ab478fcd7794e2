import Foundation
import Store
import XCTest

/// The sampling generator: uniform enough for random members, and independent per thread.
final class FastRandomTests: XCTestCase {
    func testDrawsCoverTheRangeEvenly() {
        var buckets = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { buckets[FastRandom.int(in: 0..<3)] += 1 }
        for b in buckets { XCTAssertTrue((9_000...11_000).contains(b), "\(buckets)") }
        var seen = Set<Int>()
        for _ in 0..<1_000 { seen.insert(FastRandom.int(in: 0...7)) }
        XCTAssertEqual(seen, Set(0...7))
    }

    func testThreadsDrawDifferentSequences() {
        /// Each property is written by its own thread before the semaphore is signalled.
        final class Draws: @unchecked Sendable { var first: [UInt64] = [], second: [UInt64] = [] }
        let draws = Draws()
        let done = DispatchSemaphore(value: 0)
        for i in 0..<2 {
            Thread {
                var g = FastRandom()
                let seq = (0..<8).map { _ in g.next() }
                if i == 0 { draws.first = seq } else { draws.second = seq }
                done.signal()
            }.start()
        }
        done.wait()
        done.wait()
        XCTAssertNotEqual(draws.first, draws.second)
        XCTAssertEqual(Set(draws.first).count, 8)
    }
}
