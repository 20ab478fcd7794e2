import Glibc
import Synchronization

/// The store's one source of time, in milliseconds since the epoch. Tests and the debug
/// time-travel command move it forward with `advance`, so TTLs behave as if time passed.
public final class Clock: Sendable {
    private let offset = Atomic<Int64>(0)

    public init() {}

    /// Wall-clock milliseconds plus any test offset.
    @inline(__always)
    public func nowMs() -> Int64 { Clock.wallMs() + offset.load(ordering: .relaxed) }

    @inline(__always)
    static func wallMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Microseconds, for TIME and latency figures (includes the offset).
    public func nowUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000 + offset.load(ordering: .relaxed) * 1000
    }

    /// The latest time the clock may show: the last millisecond of the year 9999. The test
    /// offset stops there, so the ms and µs readings (and a client's date library) never
    /// overflow, for the next eight thousand years of wall-clock time.
    public static let latestMs: Int64 = 253_402_300_799_999

    /// Moves the clock forward by ms (>= 0) milliseconds; false, leaving it alone, when that
    /// would take it past `latestMs`.
    @discardableResult
    public func advance(_ ms: Int64) -> Bool {
        var current = offset.load(ordering: .relaxed)
        while true {
            guard ms >= 0, ms <= Clock.latestMs - Clock.wallMs() - current else { return false }
            let (done, seen) = offset.compareExchange(expected: current, desired: current + ms, ordering: .relaxed)
            if done { return true }
            current = seen
        }
    }
}

/// Monotonic milliseconds, for uptime and timers that must not follow the test clock.
public func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Monotonic microseconds.
public func monotonicUs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}
