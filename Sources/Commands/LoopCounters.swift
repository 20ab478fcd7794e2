import CTagCacheSys
import Glibc
import Store

/// Per-event-loop counters: written only by the loop's thread (no shared cache line, no lock
/// prefix), read by INFO from any thread with relaxed loads and summed over loops.
public final class LoopCounters: @unchecked Sendable {
    /// Per command: calls, microseconds, rejected calls, failed calls.
    let perCommand: UnsafeMutablePointer<Int64>
    let commandSlots: Int
    /// Server-wide figures (see Counter).
    let totals: UnsafeMutablePointer<Int64>

    public enum Counter: Int, CaseIterable {
        case commandsProcessed, connectionsReceived, rejectedConnections, netInputBytes, netOutputBytes
        case totalErrorReplies, unexpectedErrorReplies
    }

    static let ticksPerMicrosecond = tc_ticks_per_us()

    public init(commandSlots: Int) {
        _ = LoopCounters.ticksPerMicrosecond
        self.commandSlots = commandSlots
        perCommand = .allocate(capacity: commandSlots * 4)
        perCommand.initialize(repeating: 0, count: commandSlots * 4)
        totals = .allocate(capacity: Counter.allCases.count)
        totals.initialize(repeating: 0, count: Counter.allCases.count)
    }

    deinit {
        perCommand.deallocate()
        totals.deallocate()
    }

    @inline(__always) public func add(_ c: Counter, _ v: Int) { tc_counter_add(totals + c.rawValue, Int64(v)) }
    public func value(_ c: Counter) -> Int { Int(tc_counter_load(totals + c.rawValue)) }

    /// Counts a call; its duration is kept in ticks (tc_ticks) and converted when read.
    @inline(__always) func recordCall(_ id: Int, ticks: UInt64) {
        tc_counter_add(perCommand + id * 4, 1)
        tc_counter_add(perCommand + id * 4 + 1, Int64(truncatingIfNeeded: ticks))
    }
    @inline(__always) func recordRejected(_ id: Int) { tc_counter_add(perCommand + id * 4 + 2, 1) }
    @inline(__always) func recordFailed(_ id: Int) { tc_counter_add(perCommand + id * 4 + 3, 1) }

    /// (calls, usec, rejected, failed) of command id.
    public func command(_ id: Int) -> (Int, Int, Int, Int) {
        let p = perCommand + id * 4
        let micros = Double(tc_counter_load(p + 1)) / LoopCounters.ticksPerMicrosecond
        return (Int(tc_counter_load(p)), Int(micros), Int(tc_counter_load(p + 2)), Int(tc_counter_load(p + 3)))
    }

    /// Zeroes everything (CONFIG RESETSTAT). Racy against the owning loop by nature, as in Redis.
    public func reset() {
        for i in 0..<(commandSlots * 4) { tc_counter_store(perCommand + i, 0) }
        for c in Counter.allCases { tc_counter_store(totals + c.rawValue, 0) }
    }
}

/// Error reply counts by prefix (INFO errorstats); errors are rare, so a lock is fine here.
public final class ErrorStats: @unchecked Sendable {
    private var counts: [String: Int] = [:]
    private let lock = ShardLock()
    public init() {}

    public func record(_ prefix: String) {
        lock.lock()
        counts[prefix, default: 0] += 1
        lock.unlock()
    }

    public func snapshot() -> [(String, Int)] {
        lock.lock()
        defer { lock.unlock() }
        return counts.sorted { $0.key < $1.key }
    }

    public func reset() {
        lock.lock()
        counts.removeAll()
        lock.unlock()
    }
}

