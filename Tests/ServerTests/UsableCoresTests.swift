import Foundation
@testable import Server
import XCTest

/// event-loops 0 sizes the loops from the cores the server may use: its affinity mask and its
/// cgroup CPU quota, not the machine's online count.
final class UsableCoresTests: XCTestCase {
    func write(_ dir: URL, _ name: String, _ text: String) throws {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func testCgroupQuotaIsReadAsWholeCoresRoundedUp() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        let v2 = root.appendingPathComponent("v2"), v1 = root.appendingPathComponent("v1")
        try write(v2, "cpu.max", "150000 100000\n")
        XCTAssertEqual(UsableCores.cgroupQuota(root: v2.path), 2)
        try write(v2, "cpu.max", "max 100000\n")
        XCTAssertNil(UsableCores.cgroupQuota(root: v2.path))
        try write(v2, "cpu.max", "50000 100000\n")
        XCTAssertEqual(UsableCores.cgroupQuota(root: v2.path), 1)
        try write(v1, "cpu/cpu.cfs_quota_us", "400000\n")
        try write(v1, "cpu/cpu.cfs_period_us", "100000\n")
        XCTAssertEqual(UsableCores.cgroupQuota(root: v1.path), 4)
        try write(v1, "cpu/cpu.cfs_quota_us", "-1\n")
        XCTAssertNil(UsableCores.cgroupQuota(root: v1.path))
        XCTAssertNil(UsableCores.cgroupQuota(root: root.appendingPathComponent("none").path))
    }

    /// Within what the machine has (Tests/cli/process.sh checks `taskset -c 0` gives one loop).
    func testTheCountIsWithinTheOnlineCores() {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        XCTAssertLessThanOrEqual(UsableCores.count(), online)
        XCTAssertGreaterThanOrEqual(UsableCores.count(), 1)
    }
}
