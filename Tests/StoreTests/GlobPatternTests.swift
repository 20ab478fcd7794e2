import Store
import XCTest

/// Every expectation here was read off redis-server 7.0.15: case-sensitive ones with KEYS (one key
/// in the database, does KEYS pattern return it), case-insensitive ones with CONFIG GET, which
/// matches parameter names with nocase set.
final class GlobPatternTests: XCTestCase {
    /// Pattern or subject bytes, written as a string literal (ASCII) or a byte array.
    struct Bytes: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
        let bytes: [UInt8]
        init(stringLiteral s: String) { bytes = Array(s.utf8) }
        init(arrayLiteral b: UInt8...) { bytes = b }
        var description: String {
            bytes.map { $0 >= 32 && $0 < 127 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
        }
    }

    func check(_ cases: [(Bytes, Bytes, Bool)], ignoreCase: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        for (p, s, expected) in cases {
            XCTAssertEqual(GlobPattern.matches(pattern: p.bytes, s.bytes, ignoreCase: ignoreCase), expected,
                           "pattern \"\(p)\" against \"\(s)\"", file: file, line: line)
        }
    }

    func testMatchesLikeRedis() {
        let cases: [(Bytes, Bytes, Bool)] = [
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("ab", "abc", false),
            ("*", "anything", true),
            ("**", "", false),
            ("**", "x", true),
            ("?", "", false),
            ("?", "a", true),
            ("?", "ab", false),
            ("??", "ab", true),
            ("*?", "", false),
            ("?*", "a", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("*c", "ab", false),
            ("*b*", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*c*", "abcd", true),
            ("h*llo", "hllo", true),
            ("h*llo", "heeeello", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("***a", "bba", true),
            ("a***", "a", true),
            ("*abc*abc", "abcabcabcabc", true),
            ("*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("h[ae]llo", "hello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hallo", true),
            ("h[a-b]llo", "hcllo", false),
            ("[a-c-e]", "-", true),
            ("[a-c-e]", "d", false),
            ("[a-c-e]", "e", true),
            ("[a-cx-z]", "y", true),
            ("[a-cx-z]", "m", false),
            ("[A-z]", "_", true),
            ("[A-z]", "a", true),
            ("[a-]", "-", false),
            ("[-a]", "-", true),
            ("a[-]c", "a-c", true),
            ("a[b-]c", "a-c", false),
            ("a[b-]c", "abc", false),
            ("[!a]", "b", false),
            ("[!a]", "!", true),
            ("[^]]", "a", false),
            ("[^]]", "]", false),
            ("[]]", "]", false),
            ("[]", "", false),
            ("[]", "a", false),
            ("a[]]c", "a]c", false),
            ("[c-a]", "b", true),
            ("[c-a]", "d", false),
            ("h[b-a]llo", "hallo", true),
            ("[Z-a]", "_", true),
            ("[Z-a]", "b", false),
            ("a\\*c", "a*c", true),
            ("a\\*c", "abc", false),
            ("a\\?c", "a?c", true),
            ("a\\?c", "abc", false),
            ("a\\[c", "a[c", true),
            ("\\a\\b", "ab", true),
            ("a[\\]]c", "a]c", true),
            ("a[\\-]c", "a-c", true),
            ("a[\\-]c", "a\\c", false),
            ("[\\^]*", "^a", true),
            ("\\^*", "^a", true),
            ("\\\\", "\\", true),
            ("a\\", "a\\", true),
            ("a\\", "a", false),
            ("\\", "\\", true),
            ("*\\", "a\\", true),
            ("[\\", "\\", true),
            ("[\\]", "\\", false),
            ("[\\]", "]", true),
            ("[", "", false),
            ("[", "a", false),
            ("[a", "a", true),
            ("[a", "b", false),
            ("[ab", "b", true),
            ("a[", "a", false),
            ("a[", "ab", false),
            ("[^", "a", true),
            ("[^a", "b", true),
            ("[^a", "a", false),
            ("*[", "a", false),
            ("?[", "ab", false),
            ("[a-", "-", true),
            ("[a-", "b", false),
            ([0x61, 0x00, 0x63], [0x61, 0x00, 0x63], true),
            ([0x3f, 0x00, 0x3f], [0x61, 0x00, 0x63], true),
            ([0x2a, 0x00, 0x2a], [0x61, 0x00, 0x63], true),
            ([0x2a, 0x00, 0x2a], "abc", false),
            ([0x5b, 0x00, 0x2d, 0x61, 0x5d], "0", true),
            ([0x5b, 0x80, 0x2d, 0xff, 0x5d], [0xe9], true),
            ("h?llo", [0x68, 0xe9, 0x6c, 0x6c, 0x6f], true),
            ([0xff], [0xff], true),
        ]
        check(cases)
    }

    /// KEYS and SCAN treat a lone "*" as "everything", the empty key included; stringmatchlen
    /// itself would say no, but no caller asks it.
    func testLoneStarMatchesEmptyKeyAsKeysDoes() {
        XCTAssertTrue(GlobPattern.matches(pattern: Array("*".utf8), []))
    }

    /// The recursion is bounded: a pathological pattern answers (no match) instead of taking
    /// exponential time or overflowing the stack.
    func testPathologicalPatternsFinish() {
        let pattern = Array(String(repeating: "*a", count: 2000).utf8) + Array("b".utf8)
        let subject = [UInt8](repeating: 97, count: 5000)
        XCTAssertFalse(GlobPattern.matches(pattern: pattern, subject))
        let stars = Array(String(repeating: "a*", count: 50).utf8) + Array("b".utf8)
        XCTAssertFalse(GlobPattern.matches(pattern: stars, [UInt8](repeating: 97, count: 200)))
    }

    func testNoCase() {
        check([
            ("MAXMEMORY*", "maxmemory", true),
            ("MAX[L-M]EMORY", "maxmemory", true),
            ("max[L-M]emory", "maxmemory", true),
            ("MAX[M-L]EMORY", "maxmemory", true),
            ("maxmemor[X-Z]", "maxmemory", true),
            ("Max[A-Z]emory", "maxmemory", true),
            ("max[A-Z]emory", "maxmemory", true),
            ("MAX[^a]EMORY", "maxmemory", true),
            ("MAX[^M]EMORY", "maxmemory", false),
            ("MAX[m]EMORY", "maxmemory", true),
            ("MAX\\MEMOR*", "maxmemory", true),
            // An escape inside a class compares exactly, even without case.
            ("MAX[\\M]EMORY", "maxmemory", false),
            ("MA?MEMORY", "maxmemory", true),
            ("*MEMORY", "maxmemory", true),
        ], ignoreCase: true)
        XCTAssertFalse(GlobPattern.matches(pattern: Array("MAXMEMORY".utf8), Array("maxmemory".utf8)))
    }

    /// stringmatchlen compares range ends as `char`, which is signed on x86-64 (the reference
    /// server's platform; unsigned on arm64 Linux): a range straddling 0x7f/0x80 is what a signed
    /// comparison says, so "[a-\xff]" is -1...97 and matches "0" and "\xff", not "z" or "\x80".
    func testRangesCompareBytesAsSignedChar() {
        let cases: [(Bytes, Bytes, Bool)] = [
            ([0x5b, 0x61, 0x2d, 0xff, 0x5d], "z", false),
            ([0x5b, 0x61, 0x2d, 0xff, 0x5d], "0", true),
            ([0x5b, 0x61, 0x2d, 0xff, 0x5d], [0xff], true),
            ([0x5b, 0x61, 0x2d, 0xff, 0x5d], [0x80], false),
            ([0x5b, 0xff, 0x2d, 0x61, 0x5d], [0x00], true),
            ([0x5b, 0x01, 0x2d, 0x90, 0x5d], [0x85], false),
            ([0x5b, 0x01, 0x2d, 0x90, 0x5d], "A", false),
        ]
        check(cases)
    }
}
