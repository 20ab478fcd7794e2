@testable import Commands
import XCTest

/// Redis's serialization primitives: CRC-64 (Jones), LZF, RDB string and length encodings.
final class RDBPayloadTests: XCTestCase {
    func testCRC64MatchesRedisTestVector() {
        // Redis's crc64 self-test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
        XCTAssertEqual(CRC64.checksum(Array("123456789".utf8)), 0xE9C6_D914_C4B8_D9CA)
        XCTAssertEqual(CRC64.checksum([UInt8]()), 0)
    }

    func testLZFRoundTripsAndRefusesWhatDoesNotShrink() {
        var rng = SystemRandomNumberGenerator()
        for size in [3, 21, 100, 4096, 70_000] {
            // Repetitive text compresses; random bytes do not fit in size - 4.
            let text = (0..<size).map { i in UInt8(97 + (i / 7) % 5) }
            guard let z = LZF.compress(text, maxOutput: size - 1) else {
                XCTAssertLessThan(size, 21, "text of \(size) bytes should compress")
                continue
            }
            XCTAssertLessThan(z.count, size)
            XCTAssertEqual(LZF.decompress(z[...], length: size), text)
            let noise = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let zn = LZF.compress(noise, maxOutput: size - 4) {
                XCTAssertEqual(LZF.decompress(zn[...], length: size), noise)
            }
        }
        XCTAssertNil(LZF.decompress([0xE0, 0x00][...], length: 100), "a back reference before the start")
        XCTAssertNil(LZF.decompress([0x05, 1, 2][...], length: 100), "a literal run past the input")
    }

    func testStringEncodingsReadBack() {
        let cases: [[UInt8]] = [Array("12".utf8), Array("-129".utf8), Array("100000".utf8), Array("007".utf8), [],
                                Array(String(repeating: "abc", count: 40).utf8), Array(String(repeating: "z", count: 20_000).utf8)]
        for s in cases {
            var out: [UInt8] = []
            RDBPayload.appendString(s, to: &out)
            var pos = 0
            XCTAssertEqual(RDBPayload.readString(out, &pos), s)
            XCTAssertEqual(pos, out.count)
        }
        var footer: [UInt8] = [1, 2, 3]
        RDBPayload.appendFooter(to: &footer)
        XCTAssertTrue(RDBPayload.verify(footer))
        footer[0] ^= 1
        XCTAssertFalse(RDBPayload.verify(footer))
    }
}
