import RESP
import Store
import Synchronization

/// What the server knows about one client across commands: selected database, name, auth,
/// transaction state. Owned by the connection, read by the command handlers.
///
/// Its owning event loop is the only writer of every field but `killed`. Fields other loops read
/// (CLIENT LIST, CLIENT KILL, INFO, the idle-timeout cron) are atomics (relaxed: plain loads and
/// stores, nothing extra on the request path) or sit behind a lock (Locked: the names); the rest
/// (`authenticated`, `multi`, `blocked`, `watched`) is touched by the owning loop alone.
// @unchecked Sendable: the plain vars belong to the owning loop; what other threads read is Atomic or Locked.
public final class ClientState: @unchecked Sendable {
    public let id: Int
    public var db: Int {
        get { selectedDb.load(ordering: .relaxed) }
        set { selectedDb.store(newValue, ordering: .relaxed) }
    }
    /// CLIENT SETNAME and CLIENT SETINFO's lib-name / lib-ver.
    public var name: [UInt8] {
        get { labels.withLock { $0.name } }
        set { labels.withLock { $0.name = newValue } }
    }
    public var libName: [UInt8] {
        get { labels.withLock { $0.libName } }
        set { labels.withLock { $0.libName = newValue } }
    }
    public var libVersion: [UInt8] {
        get { labels.withLock { $0.libVersion } }
        set { labels.withLock { $0.libVersion = newValue } }
    }
    public var authenticated: Bool
    /// Set by QUIT, SHUTDOWN and protocol errors: close once the pending replies are written.
    public var closeAfterReply: Bool {
        get { closing.load(ordering: .relaxed) }
        set { closing.store(newValue, ordering: .relaxed) }
    }
    /// Set by CLIENT KILL or the idle timeout from another thread; the owning loop closes it.
    public var killed: Bool {
        get { killFlag.load(ordering: .relaxed) }
        set { killFlag.store(newValue, ordering: .relaxed) }
    }
    /// The queued transaction while inside MULTI (owner thread only; see multiQueued). Set by
    /// beginMulti, cleared by endMulti.
    public private(set) var multi: MultiState? {
        didSet {
            multiQueued = multi?.count ?? -1
            multiBytes = 0
        }
    }
    /// The previous transaction's storage, emptied, for the next MULTI: a client that runs
    /// transactions in a loop allocates their arrays once.
    private var spareMulti: MultiState?

    /// Enters MULTI.
    public func beginMulti() {
        multi = spareMulti ?? MultiState()
        spareMulti = nil
    }

    /// Leaves MULTI (DISCARD, RESET, an aborted EXEC) and keeps the storage for the next.
    public func endMulti() {
        if let m = leaveMulti() { recycle(m) }
    }

    /// Leaves MULTI and hands over the transaction (EXEC runs it, then recycles it).
    public func leaveMulti() -> MultiState? {
        let m = multi
        multi = nil
        return m
    }

    /// Keeps a finished transaction's storage for the next MULTI.
    public func recycle(_ m: MultiState) {
        if m.reset() { spareMulti = m }
    }
    /// Commands queued in MULTI, -1 outside (CLIENT LIST's multi=, the idle timeout).
    public var multiQueued: Int {
        get { queued.load(ordering: .relaxed) }
        set { queued.store(newValue, ordering: .relaxed) }
    }
    /// Bytes of the queued commands' arguments (CLIENT LIST's multi-mem=, INFO memory).
    public var multiBytes: Int {
        get { queuedBytes.load(ordering: .relaxed) }
        set { queuedBytes.store(newValue, ordering: .relaxed) }
    }
    /// Set while BLPOP & co. park the client; the connection runs no further request meanwhile.
    public var blocked: BlockedClient? {
        didSet { parked.store(blocked != nil, ordering: .relaxed) }
    }
    /// `blocked != nil`, readable from any thread (the idle timeout spares blocked clients).
    public var isParked: Bool { parked.load(ordering: .relaxed) }
    /// How a blocked client's reply reaches its connection (set by the server per connection;
    /// called from whichever thread serves the client).
    public var deliverWhenUnblocked: @Sendable ([UInt8]) -> Void = { _ in }
    /// CLIENT NO-EVICT / NO-TOUCH.
    public var noEvict: Bool {
        get { modes.load(ordering: .relaxed) & 1 != 0 }
        set { _ = newValue ? modes.bitwiseOr(1, ordering: .relaxed) : modes.bitwiseAnd(~1, ordering: .relaxed) }
    }
    public var noTouch: Bool {
        get { modes.load(ordering: .relaxed) & 2 != 0 }
        set { _ = newValue ? modes.bitwiseOr(2, ordering: .relaxed) : modes.bitwiseAnd(~2, ordering: .relaxed) }
    }
    /// Keys watched by WATCH, with the version seen at WATCH time.
    public var watched: [WatchedKey] = []
    /// Table id of the last command (CLIENT LIST's cmd=), -1 before the first.
    public var lastCommandId: Int {
        get { lastCommand.load(ordering: .relaxed) }
        set { lastCommand.store(newValue, ordering: .relaxed) }
    }
    public let createdMs: Int64
    /// When the client last sent something (CLIENT LIST's idle=, the idle timeout).
    public var lastInteractionMs: Int64 {
        get { lastInteraction.load(ordering: .relaxed) }
        set { lastInteraction.store(newValue, ordering: .relaxed) }
    }
    /// Peer address "ip:port" and local address.
    public let address: String
    public let localAddress: String
    public let fd: Int32

    private let selectedDb = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)
    private let killFlag = Atomic<Bool>(false)
    private let queued = Atomic<Int>(-1)
    private let queuedBytes = Atomic<Int>(0)
    private let parked = Atomic<Bool>(false)
    private let modes = Atomic<UInt8>(0)
    private let lastCommand = Atomic<Int>(-1)
    private let lastInteraction: Atomic<Int64>
    private let labels = Locked(Labels())

    private struct Labels {
        var name: [UInt8] = []
        var libName: [UInt8] = []
        var libVersion: [UInt8] = []
    }

    public init(id: Int, authenticated: Bool, now: Int64, fd: Int32 = -1, address: String = "",
                localAddress: String = "") {
        self.id = id
        self.authenticated = authenticated
        createdMs = now
        lastInteraction = Atomic(now)
        self.fd = fd
        self.address = address
        self.localAddress = localAddress
    }
}

/// Commands queued between MULTI and EXEC. Their arguments are copied out of the input buffer
/// back to back into one array the transaction owns, so queueing a command costs no allocation
/// of its own (an object and two arrays per command before: a third of EXEC's CPU).
public final class MultiState {
    /// The queued commands, in order.
    public private(set) var specs: [CommandSpec] = []
    /// Every queued argument's bytes, back to back.
    private var bytes: [UInt8] = []
    /// Where each argument ends in `bytes`.
    private var ends: [Int] = []
    /// Per command, how many arguments it has (its first is where the previous one's end).
    private var argumentCounts: [Int] = []
    private var mostArguments = 0
    /// The shards of the queued commands' keys (as their key specs find them), which EXEC
    /// locks; unused once `allShards` is set.
    public var shards: [Int] = []
    /// A queued command declares no keys, or keys its specs cannot find: EXEC locks every shard.
    public var allShards = false
    /// A command failed to queue (unknown, wrong arity): EXEC answers EXECABORT.
    public var dirty = false
    public init() {}

    /// Queued commands.
    public var count: Int { specs.count }

    /// Empties the transaction for reuse, keeping its arrays' storage unless a large
    /// transaction made them big; returns whether it is worth keeping.
    func reset() -> Bool {
        if bytes.capacity > 64 * 1024 || specs.capacity > 1024 { return false }
        specs.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        argumentCounts.removeAll(keepingCapacity: true)
        shards.removeAll(keepingCapacity: true)
        mostArguments = 0
        allShards = false
        dirty = false
        return true
    }

    /// Queues a command with a copy of its arguments; returns the bytes copied (CLIENT LIST's
    /// multi-mem).
    @discardableResult
    public func append(_ spec: CommandSpec, _ args: Arguments) -> Int {
        let before = bytes.count
        for i in 0..<args.count {
            bytes.append(contentsOf: args[i])
            ends.append(bytes.count)
        }
        specs.append(spec)
        argumentCounts.append(args.count)
        mostArguments = max(mostArguments, args.count)
        return bytes.count - before
    }

    /// Calls body with each queued command and a view of its arguments, in order.
    public func forEach(_ body: (CommandSpec, Arguments) -> Void) {
        if specs.isEmpty { return }
        // One byte more, so that even an empty argument has an address (as the parser's views).
        bytes.reserveCapacity(bytes.count + 1)
        withUnsafeTemporaryAllocation(of: Bytes.self, capacity: max(mostArguments, 1)) { spans in
            bytes.withUnsafeBufferPointer { all in
                var argument = 0, start = 0
                for (spec, n) in zip(specs, argumentCounts) {
                    for i in 0..<n {
                        spans[i] = Bytes(start: all.baseAddress.map { $0 + start }, count: ends[argument] - start)
                        start = ends[argument]
                        argument += 1
                    }
                    body(spec, Arguments(UnsafeBufferPointer(rebasing: spans[0..<n])))
                }
            }
        }
    }
}

/// A key named by WATCH: EXEC fails when its version changed.
public struct WatchedKey {
    public let db: Int
    public let key: [UInt8]
    public let version: UInt64
}
