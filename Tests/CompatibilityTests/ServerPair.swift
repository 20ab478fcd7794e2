import Foundation
import TagCache
import XCTest

/// A redis-server child process and an in-process TagCache started side by side, for the
/// tests that compare their replies.
final class ServerPair {
    let redis: RedisProcess
    let server: TagCacheServer
    let tagcachePort: Int
    var redisPort: Int { redis.port }

    /// Both servers, or nil when redis-server is not installed: a failure in CI (Tests/run.sh
    /// installs it), a printed skip elsewhere.
    static func start(_ what: String) throws -> ServerPair? {
        guard let path = RedisProcess.find() else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("redis-server is not installed; \(what) needs it (apt-get install redis-server)")
            } else {
                print("SKIPPED \(what): redis-server not found (install it with: apt-get install redis-server, or run bash Tests/run.sh)")
            }
            return nil
        }
        return try ServerPair(redisPath: path)
    }

    private init(redisPath: String) throws {
        redis = try RedisProcess(path: redisPath)
        let config = Config()
        _ = config.set("port", "0", atStartup: true)
        _ = config.set("loglevel", "warning", atStartup: true)
        server = TagCacheServer(config: config)
        do {
            tagcachePort = try server.start()
        } catch {
            redis.stop()
            throw error
        }
    }

    func stop() {
        server.stop()
        server.waitUntilStopped()
        redis.stop()
    }
}
