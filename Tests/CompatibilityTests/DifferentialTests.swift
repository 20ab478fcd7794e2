import CaseFiles
import Commands
import RESP
import Foundation
import TagCache
import XCTest

/// Runs every case file under Cases/ against a real redis-server and an in-process TagCache,
/// once in RESP2 and once after HELLO 3, and compares the raw reply bytes.
///
/// Case file syntax, one command per line (redis-cli quoting: "a b", '\x00', "\r\n"):
///
///     SET k v                      exact: TagCache's reply bytes must equal redis-server's
///     ~ TIME                       shape: same reply types and sizes, values differ by nature
///     ! reason :: DEBUG SLEEP 0    kept difference: runs on both, not compared; reason is printed
///     @2 SET k v                   runs on the second connection of each server (WATCH tests)
///     @bytes:1048576:x             as an argument: 1,048,576 bytes of 'x'
///     = :1\r\n :: TAG.ADD k t     TagCache only (its own commands, e.g. tags): runs on TagCache
///                                  alone, whose reply must be these bytes (escapes \r \n \t \\
///                                  \xHH) in both protocols
///     =2 *1\r\n$1\r\nt\r\n :: TAG.GET k
///     =3 ~1\r\n$1\r\nt\r\n :: TAG.GET k
///                                  TagCache only, in the RESP2 (=2) or RESP3 (=3) pass only: a
///                                  pair of such lines runs the command once per pass
///
/// Blank lines and lines starting with # are ignored. Each file starts from FLUSHALL.
final class DifferentialTests: XCTestCase {
    /// A case and the file it came from.
    struct Case {
        let file: String
        let entry: CaseLine
        var line: Int { entry.line }
        var text: String { entry.text }
        var mode: CaseLine.Mode { entry.mode }
        var connection: Int { entry.connection }
        var args: [[UInt8]] { entry.args }
    }

    static let casesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Cases")

    func testEveryCaseMatchesRedis() throws {
        let files = try CaseFile.names(in: Self.casesDirectory)
        XCTAssertFalse(files.isEmpty, "no case files in \(Self.casesDirectory.path)")
        var all: [String: [Case]] = [:]
        for f in files { all[f] = try parse(file: f) }

        checkCoverage(all)

        guard let pair = try ServerPair.start("the differential suite") else { return }
        defer { pair.stop() }
        let redis = pair.redis, port = pair.tagcachePort

        var compared = 0, shaped = 0, own = 0, kept: [String] = []
        var failures = 0
        for f in files {
            for resp3 in [false, true] {
                let r = try [RawConnection(port: redis.port), RawConnection(port: redis.port)]
                let t = try [RawConnection(port: port), RawConnection(port: port)]
                for c in r + t { _ = try c.call([Array("FLUSHALL".utf8)]) }
                if resp3 {
                    for c in r + t { _ = try c.call([Array("HELLO".utf8), Array("3".utf8)]) }
                }
                for c in all[f]! {
                    let proto = resp3 ? "RESP3" : "RESP2"
                    if case let .tagcacheOnly(expected, resp) = c.mode {
                        if let v = resp, v != (resp3 ? 3 : 2) { continue }
                        own += 1
                        let b = try t[c.connection].call(c.args)
                        if b != expected {
                            failures += 1
                            XCTFail("\(c.file):\(c.line) [\(proto)] \(c.text)\n  expected: \(escape(expected))\n  tagcache: \(escape(b))")
                        }
                        continue
                    }
                    let a = try r[c.connection].call(c.args)
                    let b = try t[c.connection].call(c.args)
                    switch c.mode {
                    case .exact:
                        compared += 1
                        if a != b {
                            failures += 1
                            XCTFail("\(c.file):\(c.line) [\(proto)] \(c.text)\n  redis:    \(escape(a))\n  tagcache: \(escape(b))")
                        }
                    case .shape:
                        shaped += 1
                        if replyShape(a) != replyShape(b) {
                            failures += 1
                            XCTFail("\(c.file):\(c.line) [\(proto)] shape of \(c.text)\n  redis:    \(replyShape(a)) \(escape(a))\n  tagcache: \(replyShape(b)) \(escape(b))")
                        }
                    case let .kept(reason):
                        if !resp3 { kept.append("\(c.file):\(c.line) \(c.text) — \(reason)") }
                    case .tagcacheOnly:
                        break
                    }
                }
            }
        }
        print("Differential suite: \(compared) exact and \(shaped) shape comparisons, \(own) TagCache-only checks, \(failures) differences")
        for k in kept { print("  kept difference: \(k)") }
    }

    /// Every command in the table needs at least three cases.
    func checkCoverage(_ all: [String: [Case]]) {
        var counts: [String: Int] = [:]
        for (_, cases) in all {
            for c in cases {
                guard let first = c.args.first else { continue }
                counts[String(decoding: first, as: UTF8.self).lowercased(), default: 0] += 1
            }
        }
        var perFile: [String] = []
        for (f, cases) in all.sorted(by: { $0.key < $1.key }) { perFile.append("\(f): \(cases.count)") }
        print("Cases per group: " + perFile.joined(separator: ", ") + "; total \(all.values.reduce(0) { $0 + $1.count })")
        for spec in CommandTable.standard().commands {
            let n = counts[spec.name, default: 0]
            XCTAssertGreaterThanOrEqual(n, 3, "command '\(spec.name)' has \(n) differential cases; every command needs at least 3")
        }
    }

    func parse(file: String) throws -> [Case] {
        let text = try String(contentsOf: Self.casesDirectory.appendingPathComponent(file), encoding: .utf8)
        let (cases, errors) = CaseFile.parse(text)
        for e in errors { XCTFail("\(file):\(e.line): \(e.message)") }
        return cases.map { Case(file: file, entry: $0) }
    }

    func escape(_ b: [UInt8]) -> String {
        var s = ""
        for c in b.prefix(300) {
            switch c {
            case 13: s += "\\r"
            case 10: s += "\\n"
            case 32...126: s.append(Character(Unicode.Scalar(c)))
            default: s += String(format: "\\x%02x", c)
            }
        }
        return b.count > 300 ? s + "...(\(b.count) bytes)" : s
    }
}

/// A redis-server child process on an ephemeral port, without persistence.
final class RedisProcess {
    let process = Process()
    let port: Int

    static func find() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let p = "\(dir)/redis-server"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    init(path: String) throws {
        // Ask the kernel for a free port, then hand it to redis-server.
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                bind(s, p, len)
                return getsockname(s, p, &len)
            }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        close(s)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if let c = try? RawConnection(port: port), (try? c.call([Array("PING".utf8)])) != nil { return }
            usleep(20_000)
        }
        process.terminate()
        throw RawConnection.Failure(description: "redis-server did not start on port \(port)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
