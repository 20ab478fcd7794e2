import Foundation
import RESP
import XCTest

/// The copy of a request that MULTI queues: same bytes, any number of arguments, empty ones
/// included.
final class OwnedArgumentsTests: XCTestCase {
    func testCopiesKeepEveryArgumentIncludingEmptyOnes() {
        let values: [[UInt8]] = [Array("SET".utf8), [], Array("v\u{0}x".utf8), [], [0xFF]]
        let owned = OwnedArguments(values: values)
        XCTAssertEqual(owned.count, 5)
        XCTAssertEqual(owned.byteCount, 7)
        owned.withArguments { args in
            XCTAssertEqual(args.count, 5)
            for i in 0..<args.count {
                XCTAssertEqual(Array(args[i]), values[i])
                XCTAssertNotNil(args[i].baseAddress, "argument \(i) has an address")
            }
            // A copy of a view copies the same bytes.
            let again = args.copy()
            again.withArguments { b in XCTAssertEqual((0..<b.count).map { Array(b[$0]) }, values) }
        }
        let allEmpty = OwnedArguments(values: [[], []])
        allEmpty.withArguments { args in
            XCTAssertEqual(args.count, 2)
            XCTAssertNotNil(args[0].baseAddress)
            XCTAssertEqual(args[1].count, 0)
        }
    }

    /// One view of a million arguments costs no stack per argument (each used to take a frame).
    func testAMillionArgumentsOnASmallStack() {
        /// Written by the thread before `done` is signalled, read after the wait: never at once.
        final class Walk: @unchecked Sendable {
            let owned = OwnedArguments(values: (0..<1_000_000).map { Array("k\($0)".utf8) })
            var total = 0
        }
        let walk = Walk()
        let done = DispatchSemaphore(value: 0)
        // 256 KB of stack, less than any event loop thread gets.
        let t = Thread {
            walk.owned.withArguments { args in
                for i in 0..<args.count { walk.total += args[i].count }
            }
            done.signal()
        }
        t.stackSize = 256 * 1024
        t.start()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(walk.total, walk.owned.byteCount)
    }
}
