import RESP
import Store

/// What the server knows about one client across commands: selected database, name, auth,
/// transaction state. Owned by the connection, read by the command handlers.
public final class ClientState: @unchecked Sendable {
    public let id: Int
    public var db = 0
    public var name: [UInt8] = []
    public var libName: [UInt8] = []
    public var libVersion: [UInt8] = []
    public var authenticated: Bool
    /// Set by QUIT, SHUTDOWN and protocol errors: close once the pending replies are written.
    public var closeAfterReply = false
    /// Set by CLIENT KILL from another connection; the owning loop closes it.
    public var killed = false
    /// The queued transaction while inside MULTI (owner thread only; see multiQueued).
    public var multi: MultiState? {
        didSet { multiQueued = multi == nil ? -1 : multi!.queue.count; multiBytes = 0 }
    }
    /// Commands queued in MULTI, -1 outside: plain integers CLIENT LIST may read from any thread.
    public var multiQueued = -1
    public var multiBytes = 0
    /// Set while BLPOP & co. park the client; the connection runs no further request meanwhile.
    public var blocked: BlockedClient?
    /// How a blocked client's reply reaches its connection (set by the server per connection;
    /// called from whichever thread serves the client).
    public var deliverWhenUnblocked: @Sendable ([UInt8]) -> Void = { _ in }
    /// CLIENT NO-EVICT / NO-TOUCH.
    public var noEvict = false
    public var noTouch = false
    /// Keys watched by WATCH, with the version seen at WATCH time.
    public var watched: [WatchedKey] = []
    /// Table id of the last command (CLIENT LIST's cmd=), -1 before the first.
    public var lastCommandId = -1
    public let createdMs: Int64
    public var lastInteractionMs: Int64
    /// Peer address "ip:port" and local address, filled in by the server.
    public var address = ""
    public var localAddress = ""
    public var fd: Int32 = -1

    public init(id: Int, authenticated: Bool, now: Int64) {
        self.id = id
        self.authenticated = authenticated
        createdMs = now
        lastInteractionMs = now
    }
}

/// Commands queued between MULTI and EXEC.
public final class MultiState {
    public var queue: [(CommandSpec, OwnedArguments)] = []
    /// A command failed to queue (unknown, wrong arity): EXEC answers EXECABORT.
    public var dirty = false
    public init() {}
}

/// A key named by WATCH: EXEC fails when its version changed.
public struct WatchedKey {
    public let db: Int
    public let key: [UInt8]
    public let version: UInt64
}
