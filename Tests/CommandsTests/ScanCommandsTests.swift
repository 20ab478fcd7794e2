import Commands
import RESP
import Store
import XCTest

/// The SCAN family through the real handlers, where Redis 7.0's behaviour is not something the
/// differential suite can compare byte for byte: how much one call returns from a hash table
/// (bucket order differs between the two servers) and what happens to keys past their TTL
/// (the suite's servers cannot be made to keep an expired key without DEBUG).
final class ScanCommandsTests: HandlerTestCase {
    /// (next cursor, elements) of a SCAN-family reply.
    func scanReply(_ r: Reply, file: StaticString = #filePath, line: UInt = #line) -> (String, [String]) {
        guard case let .array(parts) = r, parts.count == 2, case let .bulk(cursor?) = parts[0] else {
            XCTFail("not a scan reply: \(r)", file: file, line: line)
            return ("0", [])
        }
        return (cursor, parts[1].strings)
    }

    /// Redis 7.0 doubles COUNT for a hash table's fields and values (and allows twice the
    /// buckets), so HSCAN ... COUNT n looks at n fields, as SSCAN looks at n members: every call
    /// but the last returns at least n fields (2n elements). (COUNT 5 and up: with 10 x COUNT
    /// buckets allowed, a call of COUNT 1 may meet only empty buckets and return nothing.)
    func testHscanCountCountsFieldsAsSscanCountsMembers() {
        let ctx = context(Keyspace(shards: 4))
        _ = run(ctx, ["HSET", "h"] + (0..<1000).flatMap { ["f\($0)", "v\($0)"] })
        _ = run(ctx, ["SADD", "s"] + (0..<1000).map { "m\($0)" })
        XCTAssertEqual(run(ctx, ["OBJECT", "ENCODING", "h"]), .bulk("hashtable"))
        for (key, perMember) in [("h", 2), ("s", 1)] {
            let command = key == "h" ? "HSCAN" : "SSCAN"
            for count in [5, 10, 37] {
                var cursor = "0"
                var members = Set<String>()
                var calls = 0
                repeat {
                    let (next, items) = scanReply(run(ctx, [command, key, cursor, "COUNT", String(count)]))
                    if next != "0" {
                        XCTAssertGreaterThanOrEqual(items.count, count * perMember, "\(command) COUNT \(count)")
                    }
                    for i in stride(from: 0, to: items.count, by: perMember) { members.insert(items[i]) }
                    cursor = next
                    calls += 1
                } while cursor != "0" && calls < 10_000
                XCTAssertEqual(members.count, 1000, "\(command) COUNT \(count): a full iteration")
            }
        }
    }

    /// NOVALUES (TagCache offers Redis 7.4's) gives the same fields per call, without values.
    func testHscanNoValuesReturnsTheFieldsAlone() {
        let ctx = context(Keyspace(shards: 4))
        _ = run(ctx, ["HSET", "h"] + (0..<1000).flatMap { ["f\($0)", "v\($0)"] })
        let (next, items) = scanReply(run(ctx, ["HSCAN", "h", "0", "COUNT", "10", "NOVALUES"]))
        XCTAssertNotEqual(next, "0")
        XCTAssertGreaterThanOrEqual(items.count, 10)
        XCTAssertTrue(items.allSatisfy { $0.hasPrefix("f") }, "\(items)")
    }

    /// SCAN removes the expired keys it meets that match MATCH and does not return them, except
    /// that with TYPE the key is looked up first (a keyspace miss, type "none"), so TYPE none
    /// returns it: Redis 7.0.15's order of filters, checked against redis-server with
    /// DEBUG SET-ACTIVE-EXPIRE 0.
    func testScanRemovesExpiredKeysAndTypeNoneReturnsThem() {
        let ks = Keyspace(shards: 4)
        let ctx = context(ks)
        _ = run(ctx, ["SET", "live", "v"])
        for k in ["gone1", "gone2", "gone3", "other"] { _ = run(ctx, ["SET", k, "v", "PX", "100"]) }
        ks.clock.advance(1000)
        let before = ks.stats()

        XCTAssertEqual(scanReply(run(ctx, ["SCAN", "0", "MATCH", "gone1", "TYPE", "none"])).1, ["gone1"])
        XCTAssertEqual(scanReply(run(ctx, ["SCAN", "0", "MATCH", "gone2", "TYPE", "string"])).1, [])
        XCTAssertEqual(scanReply(run(ctx, ["SCAN", "0", "MATCH", "gone3"])).1, [])
        XCTAssertEqual(scanReply(run(ctx, ["SCAN", "0", "MATCH", "live", "TYPE", "NONE"])).1, [])
        let after = ks.stats()
        XCTAssertEqual(after.expiredKeys - before.expiredKeys, 3, "the three matching keys were removed")
        XCTAssertEqual(after.keyspaceMisses - before.keyspaceMisses, 2, "TYPE looked up gone1 and gone2")
        XCTAssertEqual(after.keyspaceHits - before.keyspaceHits, 1, "TYPE looked up live")
        XCTAssertEqual(run(ctx, ["DBSIZE"]), .integer(2), "'other' did not match, so it stays until read")
        XCTAssertEqual(scanReply(run(ctx, ["SCAN", "0", "COUNT", "1000"])).1, ["live"])
        XCTAssertEqual(run(ctx, ["DBSIZE"]), .integer(1))
    }

    /// TAG.SCAN reads options as SCAN does, up to the first NUL of the name.
    func testTagScanOptionsAreReadAsScanReadsThem() {
        let ctx = context(Keyspace(shards: 4))
        _ = run(ctx, ["SET", "k", "v", "TAGS", "t"])
        XCTAssertEqual(scanReply(run(ctx, ["TAG.SCAN", "t", "0", "COUNT\u{0}junk", "5"])).1, ["k"])
        XCTAssertEqual(scanReply(run(ctx, ["TAG.SCAN", "t", "0", "match\u{0}", "k*"])).1, ["k"])
        XCTAssertEqual(run(ctx, ["TAG.SCAN", "t", "0", "TYPE", "string"]), .error("ERR syntax error"))
    }
}
