import Foundation
import Glibc
import XCTest

/// The built `tagcache-server` run as a child process, for tests whose failure mode is the
/// process itself dying (crash reproducers) or that need process-wide settings the test
/// runner must not share (RLIMIT_NOFILE, other bind addresses). `swift build --build-tests`
/// and `swift test` put the executable beside the test bundle.
final class ServerProcess {
    let process = Process()
    let port: Int
    let logPath: String

    /// The executable beside the test bundle, or nil when it was not built.
    static var executablePath: String? {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [bundleDir.appendingPathComponent("tagcache-server").path]
        // xctest may be started through a runner whose argv[0] is elsewhere: try the bundles too.
        for b in Bundle.allBundles {
            candidates.append(b.bundleURL.deletingLastPathComponent().appendingPathComponent("tagcache-server").path)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts `tagcache-server --port 0 --bind 127.0.0.1 --loglevel verbose` plus `arguments`
    /// (later arguments win, as on the real command line). `wrapper` runs first, e.g.
    /// `["prlimit", "--nofile=64:64"]`. Waits until the server logs its port and readiness.
    init(_ arguments: [String] = [], wrapper: [String] = [], startTimeout: Double = 20) throws {
        guard let exe = ServerProcess.executablePath else {
            throw TestClientError.setup("tagcache-server is not built beside the test bundle")
        }
        signal(SIGPIPE, SIG_IGN)
        logPath = NSTemporaryDirectory() + "tagcache-process-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let all = ["--port", "0", "--bind", "127.0.0.1", "--loglevel", "verbose"] + arguments
        if wrapper.isEmpty {
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = all
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = wrapper + [exe] + all
        }
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(startTimeout)
        var found: Int?
        while Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if text.contains("Ready to accept connections"),
               let r = text.range(of: #"port=(\d+)\."#, options: .regularExpression) {
                found = Int(text[r].dropFirst(5).dropLast())
                break
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
        guard let p = found else {
            if process.isRunning { process.terminate() }
            throw TestClientError.setup("tagcache-server did not start; log:\n\(ServerProcess.tail(logPath))")
        }
        port = p
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    var isRunning: Bool { process.isRunning }

    /// A new connection to the server.
    func client(timeout: Double = 10) throws -> TestClient { try TestClient(port: port, timeout: timeout) }

    /// What the server has logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Fails the test unless the process is alive and a new client gets PONG.
    func assertAlive(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard process.isRunning else {
            XCTFail("tagcache-server died after \(what) (status \(process.terminationStatus)); log:\n\(ServerProcess.tail(logPath))",
                    file: file, line: line)
            return
        }
        do {
            let c = try client()
            XCTAssertEqual(try c.command("PING"), "+PONG\r\n", "after \(what)", file: file, line: line)
        } catch {
            XCTFail("no PONG after \(what): \(error); log:\n\(ServerProcess.tail(logPath))", file: file, line: line)
        }
    }

    /// SIGTERM, then waits; true when the process exited with status 0 within `timeout`.
    @discardableResult
    func stop(timeout: Double = 10) -> Bool {
        guard process.isRunning else { return false }
        process.terminate()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        return process.terminationStatus == 0
    }

    /// Resident set size of the server in bytes (from /proc), 0 when unreadable.
    var residentBytes: Int {
        guard let statm = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/statm", encoding: .utf8)
        else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func tail(_ path: String, lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// The harness works: a process starts, answers, and stops cleanly on SIGTERM.
final class ServerProcessTests: XCTestCase {
    func testProcessStartsAnswersAndStops() throws {
        let server = try ServerProcess()
        server.assertAlive("start")
        XCTAssertGreaterThan(server.residentBytes, 0)
        XCTAssertTrue(server.stop(), "SIGTERM exit status 0")
    }
}
