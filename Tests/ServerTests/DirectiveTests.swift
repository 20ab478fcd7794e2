@testable import Server
import XCTest

/// Typed directives: `config[.name]` reads what the config file or CONFIG SET stored, as the
/// type its declaration gives.
final class DirectiveTests: XCTestCase {
    func testTypedDirectivesReadTheStoredValue() {
        let config = Config()
        XCTAssertEqual(config[.maxmemory], 0)
        XCTAssertTrue(config[.protectedMode])
        XCTAssertEqual(config[.maxmemoryPolicy], "noeviction")
        for (name, value) in [("maxmemory", "1mb"), ("hz", "1000"), ("protected-mode", "NO"), ("maxmemory-policy", "ALLKEYS-LRU"),
                              ("latency-tracking-info-percentiles", "50.0 99")] {
            XCTAssertNoThrow(try config.set(name, value, atStartup: true).get(), name)
        }
        XCTAssertEqual(config[.maxmemory], 1 << 20)
        XCTAssertEqual(config[.hz], 500)
        XCTAssertFalse(config[.protectedMode])
        XCTAssertEqual(config[.maxmemoryPolicy], "allkeys-lru")
        XCTAssertEqual(config[.latencyTrackingInfoPercentiles], "50 99")
    }

    func testEveryDirectiveIsListedOnce() {
        var seen = Set<String>()
        for d in Config.directives {
            XCTAssertTrue(seen.insert(d.name).inserted, "\(d.name) listed twice")
            if let a = d.alias { XCTAssertTrue(seen.insert(a).inserted, "\(a) listed twice") }
        }
        XCTAssertTrue(Config.directives.contains { $0.name == Directive.Integer.maxmemory.name })
    }
}
