import RESP
import XCTest

final class RequestParserTests: XCTestCase {
    /// Feeds bytes (optionally in pieces) and collects every parsed request or error.
    func parse(_ chunks: [[UInt8]], limits: ProtocolLimits = ProtocolLimits(),
               authenticated: Bool = true) -> (commands: [[String]], error: String?) {
        let p = RequestParser(limits: limits)
        let buf = ByteBuffer(capacity: 64)
        var out: [[String]] = []
        for c in chunks {
            buf.append(c)
            loop: while true {
                switch p.next(buf, authenticated: authenticated) {
                case let .command(args):
                    out.append((0..<args.count).map { args[$0].string })
                case .needMore:
                    break loop
                case let .protocolError(m):
                    return (out, m)
                }
            }
        }
        return (out, nil)
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testMultibulk() {
        let r = parse([bytes("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")])
        XCTAssertEqual(r.commands, [["GET", "k"]])
        XCTAssertNil(r.error)
    }

    func testPipelinedRequestsInOneRead() {
        let one = "*1\r\n$4\r\nPING\r\n"
        let r = parse([bytes(String(repeating: one, count: 100))])
        XCTAssertEqual(r.commands.count, 100)
    }

    func testRequestSplitAtEveryByte() {
        let whole = bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
        let r = parse(whole.map { [$0] })
        XCTAssertEqual(r.commands, [["SET", "key", "value"]])
    }

    func testBinarySafeBulk() {
        let r = parse([bytes("*2\r\n$4\r\n") + [0, 13, 10, 255] + bytes("\r\n$0\r\n\r\n")])
        XCTAssertEqual(r.commands.count, 1)
        XCTAssertEqual(r.commands[0].count, 2)
        XCTAssertEqual(r.commands[0][1], "")
    }

    func testEmptyAndNegativeMultibulkAreSkipped() {
        let r = parse([bytes("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")])
        XCTAssertEqual(r.commands, [["PING"]])
    }

    func testInvalidMultibulkLength() {
        XCTAssertEqual(parse([bytes("*abc\r\n")]).error, "invalid multibulk length")
        XCTAssertEqual(parse([bytes("*3000000000\r\n")]).error, "invalid multibulk length")
        XCTAssertEqual(parse([bytes("*1048577\r\n")]).error, "invalid multibulk length")
    }

    func testInvalidBulkLength() {
        XCTAssertEqual(parse([bytes("*1\r\n$-1\r\n")]).error, "invalid bulk length")
        XCTAssertEqual(parse([bytes("*1\r\n$600000000\r\n")]).error, "invalid bulk length")
        let small = ProtocolLimits(maxBulkLength: 10)
        XCTAssertEqual(parse([bytes("*1\r\n$11\r\n")], limits: small).error, "invalid bulk length")
        XCTAssertNil(parse([bytes("*1\r\n$10\r\n")], limits: small).error)
    }

    func testExpectedDollar() {
        XCTAssertEqual(parse([bytes("*1\r\nx\r\n")]).error, "expected '$', got 'x'")
    }

    func testCommandsBeforeAnErrorAreKept() {
        let r = parse([bytes("*1\r\n$4\r\nPING\r\n*x\r\n")])
        XCTAssertEqual(r.commands, [["PING"]])
        XCTAssertEqual(r.error, "invalid multibulk length")
    }

    func testTooBigCountStrings() {
        let long = [UInt8](repeating: 49, count: 70000)
        XCTAssertEqual(parse([bytes("*") + long]).error, "too big mbulk count string")
        XCTAssertEqual(parse([bytes("*1\r\n$") + long]).error, "too big bulk count string")
        XCTAssertEqual(parse([[UInt8](repeating: 97, count: 70000)]).error, "too big inline request")
    }

    func testInlineCommands() {
        XCTAssertEqual(parse([bytes("SET  k   v\r\n")]).commands, [["SET", "k", "v"]])
        XCTAssertEqual(parse([bytes("ping\n")]).commands, [["ping"]])
        XCTAssertEqual(parse([bytes("\r\n\r\nping\r\n")]).commands, [["ping"]])
    }

    func testInlineQuotes() {
        XCTAssertEqual(parse([bytes("set k \"a b\\n\\x41\"\r\n")]).commands, [["set", "k", "a b\nA"]])
        XCTAssertEqual(parse([bytes("set k 'it\\'s'\r\n")]).commands, [["set", "k", "it's"]])
        XCTAssertEqual(parse([bytes("set k \"\"\r\n")]).commands, [["set", "k", ""]])
        XCTAssertEqual(parse([bytes("set a \"b\r\n")]).error, "unbalanced quotes in request")
        XCTAssertEqual(parse([bytes("echo \"a\"b\r\n")]).error, "unbalanced quotes in request")
        XCTAssertEqual(parse([bytes("echo 'a'b\r\n")]).error, "unbalanced quotes in request")
    }

    func testInlineSplitAcrossReads() {
        XCTAssertEqual(parse([bytes("SE"), bytes("T k"), bytes(" v\r\n")]).commands, [["SET", "k", "v"]])
    }

    func testBulkLengthsNearIntMaxWaitForTheirBytes() {
        // With proto-max-bulk-len at Int.max, the end of such a bulk does not fit in an Int:
        // the parser waits (the query buffer limit ends the client), and never overflows.
        let limits = ProtocolLimits(maxBulkLength: Int.max)
        for len in [Int.max, Int.max - 1, Int.max - 2, Int.max - 5] {
            let p = RequestParser(limits: limits)
            let buf = ByteBuffer(capacity: 64)
            buf.append(bytes("*1\r\n$\(len)\r\n"))
            guard case .needMore = p.next(buf) else { return XCTFail("\(len): expected needMore") }
            let header = buf.readableCount
            XCTAssertGreaterThan(p.bytesStillNeeded(buf), 0)
            XCTAssertLessThanOrEqual(p.bytesStillNeeded(buf), len)
            buf.append(bytes("some bytes of the bulk"))
            guard case .needMore = p.next(buf) else { return XCTFail("\(len): expected needMore") }
            XCTAssertEqual(buf.readableCount, header + 22)
        }
        // Two arguments: the second header's end is past the first bulk.
        let r = parse([bytes("*2\r\n$1\r\na\r\n$9223372036854775807\r\nxyz")], limits: limits)
        XCTAssertEqual(r.commands, [])
        XCTAssertNil(r.error)
    }

    func testBytesStillNeededCountsWhatArrived() {
        let p = RequestParser()
        let buf = ByteBuffer(capacity: 64)
        buf.append(bytes("*1\r\n$100\r\n"))
        guard case .needMore = p.next(buf) else { return XCTFail("expected needMore") }
        XCTAssertEqual(p.bytesStillNeeded(buf), 102)
        buf.append([UInt8](repeating: 97, count: 60))
        guard case .needMore = p.next(buf) else { return XCTFail("expected needMore") }
        XCTAssertEqual(p.bytesStillNeeded(buf), 42)
        buf.append([UInt8](repeating: 97, count: 40) + bytes("\r\n"))
        guard case let .command(args) = p.next(buf) else { return XCTFail("expected a command") }
        XCTAssertEqual(args[0].count, 100)
        XCTAssertEqual(p.bytesStillNeeded(buf), 0)
    }

    func testUnauthenticatedLimits() {
        // Redis 7.0 (processMultibulkBuffer): more than 10 arguments or a bulk over 16384 bytes
        // before AUTH; lengths that are invalid anyway get the invalid-length error first.
        XCTAssertEqual(parse([bytes("*11\r\n")], authenticated: false).error, "unauthenticated multibulk length")
        XCTAssertEqual(parse([bytes("*2000000\r\n")], authenticated: false).error, "unauthenticated multibulk length")
        XCTAssertEqual(parse([bytes("*3000000000\r\n")], authenticated: false).error, "invalid multibulk length")
        XCTAssertEqual(parse([bytes("*1\r\n$16385\r\n")], authenticated: false).error, "unauthenticated bulk length")
        XCTAssertEqual(parse([bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000000\r\n")], authenticated: false).error,
                       "unauthenticated bulk length")
        XCTAssertEqual(parse([bytes("*1\r\n$600000000\r\n")], authenticated: false).error, "invalid bulk length")
        XCTAssertEqual(parse([bytes("*1\r\n$-1\r\n")], authenticated: false).error, "invalid bulk length")
        // An inline line may lead into a multibulk: the limit still applies.
        XCTAssertEqual(parse([bytes("PING\r\n*11\r\n")], authenticated: false).error, "unauthenticated multibulk length")
        // At the limits, and for authenticated clients, nothing changes.
        let ten = "*10\r\n" + String(repeating: "$1\r\nx\r\n", count: 10)
        XCTAssertEqual(parse([bytes(ten)], authenticated: false).commands.count, 1)
        let big = "*1\r\n$16384\r\n" + String(repeating: "x", count: 16384) + "\r\n"
        XCTAssertEqual(parse([bytes(big)], authenticated: false).commands.count, 1)
        XCTAssertEqual(parse([bytes("*-5\r\n*0\r\n")], authenticated: false).error, nil)
        let eleven = "*11\r\n" + String(repeating: "$1\r\nx\r\n", count: 11)
        XCTAssertEqual(parse([bytes(eleven)]).commands.count, 1)
        let bigger = "*1\r\n$16385\r\n" + String(repeating: "x", count: 16385) + "\r\n"
        XCTAssertEqual(parse([bytes(bigger)]).commands.count, 1)
    }

    func testReleasedParserKeepsParsing() {
        let p = RequestParser()
        let buf = ByteBuffer(capacity: 64)
        let many = "*100\r\n" + String(repeating: "$1\r\nx\r\n", count: 100)
        buf.append(bytes(many))
        guard case let .command(a) = p.next(buf) else { return XCTFail("expected a command") }
        XCTAssertEqual(a.count, 100)
        p.releaseMemory()
        // Released in the middle of a request: nothing of the partial request is lost.
        buf.append(bytes("*2\r\n$3\r\nGET\r\n"))
        guard case .needMore = p.next(buf) else { return XCTFail("expected needMore") }
        p.releaseMemory()
        buf.append(bytes("$1\r\nk\r\nPING x\r\n"))
        guard case let .command(b) = p.next(buf) else { return XCTFail("expected a command") }
        XCTAssertEqual([b[0].string, b[1].string], ["GET", "k"])
        p.releaseMemory()
        guard case let .command(c) = p.next(buf) else { return XCTFail("expected a command") }
        XCTAssertEqual([c[0].string, c[1].string], ["PING", "x"])
    }

    func testRedisIntegerRules() {
        func p(_ s: String) -> Int? { var s = s; return s.withUTF8 { parseRedisInteger($0) } }
        XCTAssertEqual(p("0"), 0)
        XCTAssertEqual(p("-1"), -1)
        XCTAssertEqual(p("9223372036854775807"), Int.max)
        XCTAssertEqual(p("-9223372036854775808"), Int.min)
        XCTAssertNil(p("9223372036854775808"))
        XCTAssertNil(p("01"))
        XCTAssertNil(p("+1"))
        XCTAssertNil(p(" 1"))
        XCTAssertNil(p("-"))
        XCTAssertNil(p("-0"))
        XCTAssertNil(p(""))
    }
}
