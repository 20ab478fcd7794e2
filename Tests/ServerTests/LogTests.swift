import Foundation
import TagCache
import XCTest

/// The log: levels gate what is written, a message below the level is never built, the level
/// follows CONFIG SET loglevel, and --logfile takes every line.
final class LogTests: XCTestCase {
    func tempFile() -> String {
        NSTemporaryDirectory() + "tagcache-log-\(UUID().uuidString).log"
    }

    func testAMessageBelowTheLevelIsNeverBuilt() throws {
        let log = Log()
        let path = tempFile()
        defer { unlink(path) }
        XCTAssertTrue(log.setFile(path))
        var built: [String] = []
        func message(_ s: String) -> String {
            built.append(s)
            return s
        }
        log.level = .notice
        log.debug(message("debug at notice"))
        log.verbose(message("verbose at notice"))
        log.notice(message("notice at notice"))
        log.warning(message("warning at notice"))
        log.level = .nothing
        log.warning(message("warning at nothing"))
        log.level = .debug
        log.debug(message("debug at debug"))
        XCTAssertEqual(built, ["notice at notice", "warning at notice", "debug at debug"])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        // Redis's marks: . debug, - verbose, * notice, # warning.
        XCTAssertTrue(lines[0].hasSuffix(" * notice at notice"), String(lines[0]))
        XCTAssertTrue(lines[1].hasSuffix(" # warning at notice"), String(lines[1]))
        XCTAssertTrue(lines[2].hasSuffix(" . debug at debug"), String(lines[2]))
        XCTAssertNotNil(lines[0].wholeMatch(of: /[0-9]+:M [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8}\.[0-9]{3} \* notice at notice/))
    }

    func testLevelFollowsCONFIGSETAndEveryLineGoesToTheLogfile() throws {
        let path = tempFile()
        defer { unlink(path) }
        let s = try TestServer(["loglevel": "notice", "logfile": path])
        defer { s.stop() }
        XCTAssertEqual(s.server.log.level, .notice)
        let c = try s.client()
        assertReply(try c.command("CONFIG", "SET", "loglevel", "verbose"), "+OK\r\n")
        XCTAssertEqual(s.server.log.level, .verbose)
        // Seen at verbose: a client connecting and closing.
        let other = try s.client()
        assertReply(try other.command("PING"), "+PONG\r\n")
        other.close()
        var text = ""
        for _ in 0..<100 {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if text.contains("Client closed connection") { break }
            usleep(20_000)
        }
        XCTAssertTrue(text.contains(" * Ready to accept connections"), text)
        XCTAssertTrue(text.contains(" * CONFIG SET loglevel 'verbose' (was 'notice')"), text)
        XCTAssertNotNil(text.firstMatch(of: /\ - Accepted 127\.0\.0\.1:[0-9]+\n/), text)
        XCTAssertTrue(text.contains(" - Client closed connection id="), text)
        assertReply(try c.command("CONFIG", "SET", "loglevel", "warning"), "+OK\r\n")
        XCTAssertEqual(s.server.log.level, .warning)
    }
}
