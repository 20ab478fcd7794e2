import CTagCacheSys
import Glibc
import RESP
import Store
import Synchronization

/// Per-event-loop counters: written only by the loop's thread (no shared cache line, no lock
/// prefix), read by INFO from any thread with relaxed loads and summed over loops. Besides the
/// call counters it holds the loop's latency histograms and key-prefix sketch, and the
/// settings the request path reads (latency tracking, slow log threshold, prefix tracking),
/// which the server sets from any thread.
// @unchecked Sendable: counters are C atomics in raw memory, settings Atomics; errorMark, the pending reads and slowlog (set before traffic) belong to the owning loop.
public final class LoopCounters: @unchecked Sendable {
    /// Per command: calls, microseconds, rejected calls, failed calls.
    let perCommand: UnsafeMutablePointer<Int64>
    let commandSlots: Int
    /// Server-wide figures (see Counter).
    let totals: UnsafeMutablePointer<Int64>
    /// Per command latency histograms (INFO latencystats).
    public let latencies: LatencyHistograms
    /// The busiest key prefixes read on this loop (INFO keyprefixes).
    public let prefixes = PrefixSketch()
    /// The server's slow log (shared by every loop; the server sets it before traffic starts).
    public var slowlog = Slowlog()

    /// Error replies are counted by code in ErrorStats (INFO errorstats, total_error_replies).
    public enum Counter: Int, CaseIterable {
        case commandsProcessed, connectionsReceived, rejectedConnections, netInputBytes, netOutputBytes
    }

    public static let ticksPerMicrosecond = tc_ticks_per_us()

    // Settings read on the request path: relaxed atomics, i.e. plain loads.
    private let latencyTracking = Atomic<Bool>(true)
    private let slowlogThreshold = Atomic<UInt64>(UInt64.max)
    private let prefixTracking = Atomic<Bool>(false)
    private let prefixSeparator = Atomic<UInt8>(UInt8(ascii: ":"))

    /// The connection's error count after the last command (nested ones included) finished:
    /// errors above it belong to the command finishing now (see Dispatcher.call).
    public var errorMark = 0

    /// Prefixes of keys read by the running command, copied while their shard is locked and
    /// handed to the sketch by Dispatcher.call once the command is done.
    static let pendingCapacity = 8
    public private(set) var pendingReads = 0
    private var pendingHits: UInt32 = 0
    private let pendingLengths: UnsafeMutablePointer<Int>
    private let pendingHashes: UnsafeMutablePointer<Int64>
    private let pendingBytes: UnsafeMutableRawPointer

    public init(commandSlots: Int) {
        _ = LoopCounters.ticksPerMicrosecond
        self.commandSlots = commandSlots
        perCommand = .allocate(capacity: commandSlots * 4)
        perCommand.initialize(repeating: 0, count: commandSlots * 4)
        totals = .allocate(capacity: Counter.allCases.count)
        totals.initialize(repeating: 0, count: Counter.allCases.count)
        latencies = LatencyHistograms(commandSlots: commandSlots)
        pendingLengths = .allocate(capacity: LoopCounters.pendingCapacity)
        pendingLengths.initialize(repeating: 0, count: LoopCounters.pendingCapacity)
        pendingHashes = .allocate(capacity: LoopCounters.pendingCapacity)
        pendingHashes.initialize(repeating: 0, count: LoopCounters.pendingCapacity)
        pendingBytes = .allocate(byteCount: LoopCounters.pendingCapacity * PrefixSketch.maxPrefixLength, alignment: 8)
    }

    deinit {
        perCommand.deallocate()
        totals.deallocate()
        pendingLengths.deallocate()
        pendingHashes.deallocate()
        pendingBytes.deallocate()
    }

    @inline(__always) public func add(_ c: Counter, _ v: Int) { tc_counter_add(totals + c.rawValue, Int64(v)) }
    public func value(_ c: Counter) -> Int { Int(tc_counter_load(totals + c.rawValue)) }

    // MARK: settings (any thread)

    /// latency-tracking, slowlog-log-slower-than (µs; negative = off), and the key-prefix
    /// statistics: separator byte and how many prefixes to keep (0 = off).
    public func configure(latencyTracking: Bool, slowlogMicroseconds: Int, prefixSeparator: UInt8, prefixes: Int) {
        self.latencyTracking.store(latencyTracking, ordering: .relaxed)
        slowlogThreshold.store(LoopCounters.slowlogThresholdTicks(microseconds: slowlogMicroseconds), ordering: .relaxed)
        let separatorChanged = self.prefixSeparator.load(ordering: .relaxed) != prefixSeparator
        self.prefixSeparator.store(prefixSeparator, ordering: .relaxed)
        let wanted = prefixes <= 0 ? 0 : min(prefixes * 2, self.prefixes.maxCapacity)
        if separatorChanged || wanted != configuredPrefixCapacity.load(ordering: .relaxed) {
            configuredPrefixCapacity.store(wanted, ordering: .relaxed)
            self.prefixes.configure(capacity: wanted)
        }
        prefixTracking.store(prefixes > 0, ordering: .relaxed)
    }
    private let configuredPrefixCapacity = Atomic<Int>(-1)

    /// slowlog-log-slower-than (up to Int64.max µs) in ticks; a threshold past UInt64.max ticks
    /// is never reached, as is a negative one.
    static func slowlogThresholdTicks(microseconds: Int) -> UInt64 {
        if microseconds < 0 { return UInt64.max }
        let ticks = (Double(microseconds) * ticksPerMicrosecond).rounded(.up)
        return ticks < 0x1p64 ? UInt64(ticks) : UInt64.max
    }

    /// Ticks at or above which a command goes to the slow log (UInt64.max: never).
    @inline(__always) public var slowlogThresholdTicks: UInt64 { slowlogThreshold.load(ordering: .relaxed) }

    // MARK: request path (owning loop only)

    /// Counts a call; its duration is kept in ticks (tc_ticks) and converted when read.
    @inline(__always) func recordCall(_ id: Int, ticks: UInt64) {
        tc_counter_add(perCommand + id * 4, 1)
        tc_counter_add(perCommand + id * 4 + 1, Int64(truncatingIfNeeded: ticks))
        if latencyTracking.load(ordering: .relaxed) { latencies.record(id, ticks: ticks) }
    }
    @inline(__always) func recordRejected(_ id: Int) { tc_counter_add(perCommand + id * 4 + 2, 1) }
    @inline(__always) func recordFailed(_ id: Int) { tc_counter_add(perCommand + id * 4 + 3, 1) }

    /// A key was looked up for reading (where keyspace_hits/misses are counted).
    @inline(__always) public func keyRead(_ key: Bytes, hit: Bool) {
        if prefixTracking.load(ordering: .relaxed) { notePrefix(key, hit: hit) }
    }

    /// Copies the key's prefix (up to the separator, at most maxPrefixLength bytes) and hashes
    /// it in the same pass.
    @inline(never)
    private func notePrefix(_ key: Bytes, hit: Bool) {
        if pendingReads == LoopCounters.pendingCapacity { flushKeyReads() }
        let i = pendingReads
        let dst = (pendingBytes + i * PrefixSketch.maxPrefixLength).assumingMemoryBound(to: UInt8.self)
        let separator = prefixSeparator.load(ordering: .relaxed)
        let limit = min(key.count, PrefixSketch.maxPrefixLength)
        var h = PrefixSketch.hashSeed
        var word: UInt64 = 0
        var n = 0
        if let src = key.baseAddress {
            while n < limit {
                let b = src[n]
                if b == separator { break }
                dst[n] = b
                word |= UInt64(b) << UInt64((n & 7) << 3)
                n += 1
                if n & 7 == 0 {
                    h = PrefixSketch.mixWord(h, word)
                    word = 0
                }
            }
        }
        pendingLengths[i] = n
        pendingHashes[i] = PrefixSketch.finish(h, tail: word, length: n)
        if hit { pendingHits |= 1 << UInt32(i) }
        pendingReads = i + 1
    }

    /// Hands the prefixes noted by the command to the sketch (outside any shard lock).
    public func flushKeyReads() {
        for i in 0..<pendingReads {
            prefixes.record(UnsafeRawPointer(pendingBytes + i * PrefixSketch.maxPrefixLength), pendingLengths[i],
                            hash: pendingHashes[i], hit: pendingHits & (1 << UInt32(i)) != 0)
        }
        pendingReads = 0
        pendingHits = 0
    }

    // MARK: INFO (any thread)

    /// (calls, usec, rejected, failed) of command id.
    public func command(_ id: Int) -> (Int, Int, Int, Int) {
        let p = perCommand + id * 4
        let micros = Double(tc_counter_load(p + 1)) / LoopCounters.ticksPerMicrosecond
        return (Int(tc_counter_load(p)), Int(micros), Int(tc_counter_load(p + 2)), Int(tc_counter_load(p + 3)))
    }

    /// Zeroes everything (CONFIG RESETSTAT). Racy against the owning loop by nature, as in Redis;
    /// the prefix sketch is cleared by its owner at its next record.
    public func reset() {
        for i in 0..<(commandSlots * 4) { tc_counter_store(perCommand + i, 0) }
        for c in Counter.allCases { tc_counter_store(totals + c.rawValue, 0) }
        latencies.reset()
        prefixes.reset()
    }
}

/// Error reply counts by prefix (INFO errorstats); errors are rare, so a lock is fine here.
public final class ErrorStats: Sendable {
    private let counts = Locked<[String: Int]>([:])
    public init() {}

    public func record(_ prefix: String) {
        counts.withLock { $0[prefix, default: 0] += 1 }
    }

    public func snapshot() -> [(String, Int)] {
        counts.withLock { $0.sorted { $0.key < $1.key } }
    }

    public func reset() {
        counts.withLock { $0.removeAll() }
    }
}
