import Foundation
import RESP

/// One case of a differential case file (Tests/CompatibilityTests/Cases/*.txt; the syntax is
/// described in DifferentialTests.swift): how its reply is checked, the connection it runs on,
/// and its arguments. The differential suite runs the cases; the fuzz targets turn them into seeds.
public struct CaseLine: Sendable {
    public enum Mode: Sendable { case exact, shape, kept(String), tagcacheOnly(expected: [UInt8], resp: Int?) }
    public let line: Int
    public let text: String
    public let mode: Mode
    /// 0 for the first connection, 1 for the second (`@2`).
    public let connection: Int
    public let args: [[UInt8]]
}

/// Reads case files.
public enum CaseFile {
    /// The case files of a directory, sorted by name.
    public static func names(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".txt") }.sorted()
    }

    /// The cases of one file's text, and a message for every line that cannot be read.
    public static func parse(_ text: String) -> (cases: [CaseLine], errors: [(line: Int, message: String)]) {
        var out: [CaseLine] = []
        var errors: [(Int, String)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var mode = CaseLine.Mode.exact
            var conn = 0
            if line.hasPrefix("~ ") {
                mode = .shape
                line = String(line.dropFirst(2))
            } else if line.hasPrefix("= ") || line.hasPrefix("=2 ") || line.hasPrefix("=3 ") {
                guard let sep = line.range(of: " :: "), let space = line.firstIndex(of: " ") else {
                    errors.append((i + 1, "a TagCache-only case needs '= expected :: command'"))
                    continue
                }
                let resp = line.hasPrefix("= ") ? nil : Int(String(line[line.index(after: line.startIndex)]))
                let expected = String(line[line.index(after: space)..<sep.lowerBound]).trimmingCharacters(in: .whitespaces)
                guard let bytes = unescapeExpected(expected) else {
                    errors.append((i + 1, "cannot read the expected reply '\(expected)'"))
                    continue
                }
                mode = .tagcacheOnly(expected: bytes, resp: resp)
                line = String(line[sep.upperBound...])
            } else if line.hasPrefix("! ") {
                guard let sep = line.range(of: " :: ") else {
                    errors.append((i + 1, "a kept difference needs 'reason :: command'"))
                    continue
                }
                mode = .kept(String(line[line.index(line.startIndex, offsetBy: 2)..<sep.lowerBound]))
                line = String(line[sep.upperBound...])
            }
            if line.hasPrefix("@"), let sp = line.firstIndex(of: " "), let n = Int(line.dropFirst().prefix(upTo: sp)) {
                conn = n - 1
                line = String(line[line.index(after: sp)...])
            }
            guard let args = splitArguments(line), !args.isEmpty else {
                errors.append((i + 1, "cannot parse '\(line)'"))
                continue
            }
            out.append(CaseLine(line: i + 1, text: line, mode: mode, connection: max(0, min(conn, 1)), args: args))
        }
        return (out, errors)
    }

    /// The bytes of an expected reply written with escapes: \r \n \t \\ \xHH.
    public static func unescapeExpected(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            if u[i] != 92 { out.append(u[i]); i += 1; continue }
            guard i + 1 < u.count else { return nil }
            switch u[i + 1] {
            case 114: out.append(13); i += 2
            case 110: out.append(10); i += 2
            case 116: out.append(9); i += 2
            case 92: out.append(92); i += 2
            case 120:
                guard i + 3 < u.count, let v = UInt8(String(decoding: u[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
                i += 4
            default: return nil
            }
        }
        return out
    }

    /// Splits with redis-cli's quoting (TagCache's own inline parser) and expands @bytes:N:c.
    public static func splitArguments(_ line: String) -> [[UInt8]]? {
        let parser = RequestParser(limits: ProtocolLimits(maxInlineLength: 1 << 20))
        let buf = ByteBuffer()
        buf.append(string: line + "\r\n")
        guard case let .command(args) = parser.next(buf) else { return nil }
        return (0..<args.count).map { i in
            let a = Array(args[i])
            let s = String(decoding: a, as: UTF8.self)
            if s.hasPrefix("@bytes:") {
                let parts = s.split(separator: ":")
                if parts.count == 3, let n = Int(parts[1]), let c = parts[2].utf8.first {
                    return [UInt8](repeating: c, count: n)
                }
            }
            return a
        }
    }
}
