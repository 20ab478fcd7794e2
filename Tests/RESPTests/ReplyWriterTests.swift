import RESP
import XCTest

final class ReplyWriterTests: XCTestCase {
    func text(_ resp3: Bool, _ body: (ReplyWriter) -> Void) -> String {
        let w = ReplyWriter()
        w.protocolVersion = resp3 ? 3 : 2
        body(w)
        return String(decoding: w.out.readableArray(), as: UTF8.self)
    }

    func testScalars() {
        XCTAssertEqual(text(false) { $0.ok() }, "+OK\r\n")
        XCTAssertEqual(text(false) { $0.integer(-42) }, ":-42\r\n")
        XCTAssertEqual(text(false) { $0.integer(Int.min) }, ":-9223372036854775808\r\n")
        XCTAssertEqual(text(false) { $0.bulk(string: "hi") }, "$2\r\nhi\r\n")
        XCTAssertEqual(text(false) { $0.error("ERR bad\r\nthing") }, "-ERR bad  thing\r\n")
    }

    /// Errors of any bytes (quoting a client's argument) are counted and reported like others.
    func testErrorOfBytesIsCountedAndReported() {
        final class Codes: ErrorReplyObserver, @unchecked Sendable { // one thread
            var codes: [[UInt8]] = []
            func errorReplied(code: UnsafeRawBufferPointer) { codes.append(Array(code)) }
        }
        let w = ReplyWriter(), codes = Codes()
        w.errorObserver = codes
        [UInt8]("ERR Unsupported option \u{0}".utf8.dropLast() + [0xFF, 0xFE, 10, 0x41]).withUnsafeBytes { w.error(bytes: $0) }
        XCTAssertEqual(w.out.readableArray(), Array("-ERR Unsupported option ".utf8) + [0xFF, 0xFE, 32, 0x41, 13, 10])
        XCTAssertEqual(w.errorCount, 1)
        XCTAssertEqual(codes.codes, [Array("ERR".utf8)])
    }

    func testNullsByProtocol() {
        XCTAssertEqual(text(false) { $0.null() }, "$-1\r\n")
        XCTAssertEqual(text(false) { $0.nullArray() }, "*-1\r\n")
        XCTAssertEqual(text(true) { $0.null() }, "_\r\n")
        XCTAssertEqual(text(true) { $0.nullArray() }, "_\r\n")
    }

    func testAggregatesByProtocol() {
        XCTAssertEqual(text(false) { $0.map(2) }, "*4\r\n")
        XCTAssertEqual(text(true) { $0.map(2) }, "%2\r\n")
        XCTAssertEqual(text(false) { $0.set(3) }, "*3\r\n")
        XCTAssertEqual(text(true) { $0.set(3) }, "~3\r\n")
    }

    func testBooleanDoubleVerbatim() {
        XCTAssertEqual(text(false) { $0.boolean(true) }, ":1\r\n")
        XCTAssertEqual(text(true) { $0.boolean(false) }, "#f\r\n")
        XCTAssertEqual(text(false) { $0.double(1.5) }, "$3\r\n1.5\r\n")
        XCTAssertEqual(text(true) { $0.double(1.5) }, ",1.5\r\n")
        XCTAssertEqual(text(true) { $0.double(.infinity) }, ",inf\r\n")
        XCTAssertEqual(text(false) { $0.verbatim("a:1") }, "$3\r\na:1\r\n")
        XCTAssertEqual(text(true) { $0.verbatim("a:1") }, "=7\r\ntxt:a:1\r\n")
    }

    func testLargeBulkGrowsBuffer() {
        let big = [UInt8](repeating: 120, count: 1 << 20)
        let w = ReplyWriter()
        w.bulk(big)
        XCTAssertEqual(w.out.readableCount, (1 << 20) + 12)  // "$1048576\r\n" + data + "\r\n"
    }
}
