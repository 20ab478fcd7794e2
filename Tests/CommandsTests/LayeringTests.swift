import Foundation
import XCTest

/// Walks over shards, tables and tag indexes belong to the store (Keyspace's named
/// operations); the command layer reaches a key only through KeySlot. A handler that walks a
/// table itself has to take the lock protocol (EXEC holds every lock) and lazy expiry into its
/// own hands, which is how the copies drifted before.
final class LayeringTests: XCTestCase {
    static let commands = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/Commands")

    func testNoCommandWalksAShardTableOrATagIndex() throws {
        let walks = ["existingTable(", "forEachSlot(", "randomSlot(", "TagIndex", "forEachMember(", "forEachTagName(",
                     "memberCount(of", "beginInvalidation(", "invalidateStep(", "scanBucket(", "walk(from:", "shardBits"]
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.commands.path).filter { $0.hasSuffix(".swift") }
        XCTAssertFalse(files.isEmpty, "no sources under \(Self.commands.path)")
        for file in files {
            let text = try String(contentsOf: Self.commands.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.trimmingCharacters(in: .whitespaces).hasPrefix("//") { continue }
                for w in walks where line.contains(w) {
                    XCTFail("Sources/Commands/\(file):\(n + 1) walks the store itself (\(w)): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
    }
}
