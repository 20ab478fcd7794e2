import Glibc
import Synchronization

/// The store's one source of time, in milliseconds since the epoch. Tests and the debug
/// time-travel command move it forward with `advance`, so TTLs behave as if time passed.
public final class Clock: Sendable {
    private let offset = Atomic<Int64>(0)

    public init() {}

    /// Wall-clock milliseconds plus any test offset.
    @inline(__always)
    public func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000 + offset.load(ordering: .relaxed)
    }

    /// Microseconds, for TIME and latency figures (includes the offset).
    public func nowUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000 + offset.load(ordering: .relaxed) * 1000
    }

    /// Moves the clock forward by ms milliseconds.
    public func advance(_ ms: Int64) { offset.add(ms, ordering: .relaxed) }
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
