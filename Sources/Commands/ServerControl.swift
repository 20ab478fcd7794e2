import RESP
import Store

/// What command handlers need from the running server (implemented by the Server layer):
/// configuration, other clients, INFO figures, shutdown.
public protocol ServerControl: AnyObject, Sendable {
    /// requirepass, or nil when none is set.
    var requirePass: [UInt8]? { get }
    /// The INFO text for the asked sections (already lower-cased; empty = default).
    func info(sections: [String], client: ClientState) -> String
    /// CLIENT LIST lines (each ending in "\n") for the clients matching the filter.
    func clientList(ids: [Int]?, type: String?) -> String
    /// One CLIENT LIST line for this client.
    func clientInfo(_ client: ClientState) -> String
    /// Kills clients matching the filter; returns how many. `skipSelf` excludes the caller.
    func killClients(_ filter: ClientKillFilter, caller: ClientState) -> Int
    /// CONFIG GET: (name, value) pairs for the globs.
    func configGet(_ patterns: [[UInt8]]) -> [(String, String)]
    /// CONFIG SET: nil on success, or the complete error message.
    func configSet(_ pairs: [([UInt8], [UInt8])]) -> String?
    /// CONFIG RESETSTAT.
    func resetStats()
    /// CONFIG REWRITE: nil on success, or the error message.
    func configRewrite() -> String?
    /// Begin a graceful shutdown (SHUTDOWN).
    func shutdown(client: ClientState)
    /// Whether DEBUG and other test-only commands are allowed.
    var debugCommandsEnabled: Bool { get }
}

/// CLIENT KILL's filters (new and old forms).
public struct ClientKillFilter {
    public var address: String?
    public var localAddress: String?
    public var id: Int?
    public var type: String?
    public var user: String?
    public var skipMe = true
    public var maxAge: Int?
    public init() {}
}
