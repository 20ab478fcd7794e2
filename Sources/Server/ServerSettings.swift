import Commands
import RESP
import Store
import Synchronization

/// The directives the request path, the listener and the cron read, as one immutable value.
/// CONFIG SET never changes one in place: it builds a new one and publishes it (SettingsCell),
/// so a reader sees either the old settings or the new ones, never half of each.
final class ServerSettings: Sendable {
    let protocolLimits: ProtocolLimits
    let queryBufferLimit: Int
    let outputBackpressure: Int
    let maxClients: Int
    let idleTimeoutSeconds: Int
    /// requirepass, or nil when none is set.
    let requirePass: [UInt8]?
    let tcpKeepalive: Int
    let protectedMode: Bool
    /// What the loops' counters do on the request path (LoopCounters.configure): latency
    /// tracking, the slow log threshold (µs), and the key-prefix statistics' separator byte and
    /// how many prefixes to report.
    let latencyTracking: Bool
    let slowlogMicroseconds: Int
    let prefixSeparator: UInt8
    let prefixesMax: Int

    init(_ config: Config) {
        protocolLimits = ProtocolLimits(maxBulkLength: config[.protoMaxBulkLen], maxMultibulkLength: config[.protoMaxMultibulkLen])
        queryBufferLimit = config[.clientQueryBufferLimit]
        outputBackpressure = config[.clientOutputBackpressure]
        maxClients = config[.maxclients]
        idleTimeoutSeconds = config[.timeout]
        let p = config[.requirepass]
        requirePass = p.isEmpty ? nil : Array(p.utf8)
        tcpKeepalive = config[.tcpKeepalive]
        protectedMode = config[.protectedMode]
        latencyTracking = config[.latencyTracking]
        slowlogMicroseconds = config[.slowlogLogSlowerThan]
        prefixSeparator = config[.statsPrefixSeparator].utf8.first ?? UInt8(ascii: ":")
        prefixesMax = config[.statsPrefixesMax]
    }

    /// Hands the statistics settings to one loop's counters.
    func configure(_ counters: LoopCounters) {
        counters.configure(latencyTracking: latencyTracking, slowlogMicroseconds: slowlogMicroseconds,
                           prefixSeparator: prefixSeparator, prefixes: prefixesMax)
    }
}

/// Where the current ServerSettings is published. A writer swaps the reference under the lock,
/// then bumps the generation. Each event loop keeps its own reference and takes the lock only
/// when the generation moved, so its request path pays one acquiring load per epoll batch (a
/// plain mov on x86-64, ldar on arm64) and no lock, retain or release.
final class SettingsCell: Sendable {
    private let current: Locked<ServerSettings>
    private let generationCounter = Atomic<Int>(0)

    init(_ settings: ServerSettings) { current = Locked(settings) }

    /// The current settings (takes the lock: for code off the request path).
    var value: ServerSettings { current.withLock { $0 } }

    /// Moves on every publish; a reader whose copy is of an older generation re-reads `value`.
    @inline(__always) var generation: Int { generationCounter.load(ordering: .acquiring) }

    func publish(_ settings: ServerSettings) {
        current.withLock { $0 = settings }
        generationCounter.add(1, ordering: .releasing)
    }
}
