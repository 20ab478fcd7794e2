import RESP
import Store

/// What command handlers need from the running server (implemented by the Server layer):
/// configuration, other clients, INFO figures, shutdown.
public protocol ServerControl: AnyObject, Sendable {
    /// requirepass, or nil when none is set.
    var requirePass: [UInt8]? { get }
    /// The Redis version reported to clients (HELLO, INFO), which gate features on it.
    var redisVersion: String { get }
    /// TagCache's own version (HELLO's extra `tagcache_version` field).
    var tagcacheVersion: String { get }
    /// The INFO text for the asked sections (already lower-cased; empty = default).
    func info(sections: [String], client: ClientState) -> String
    /// CLIENT LIST lines (each ending in "\n"): every client of `type` (nil = all), or the clients
    /// with the given ids, in the order given.
    func clientList(ids: [Int]?, type: String?) -> String
    /// One CLIENT LIST line for this client.
    func clientInfo(_ client: ClientState) -> String
    /// Kills clients matching the filter; returns how many. `skipMe` excludes the caller.
    func killClients(_ filter: ClientKillFilter, caller: ClientState) -> Int
    /// CLIENT NO-EVICT / NO-TOUCH (nil leaves a mode as it is); shown in CLIENT LIST's flags.
    func setClientModes(_ client: ClientState, noEvict: Bool?, noTouch: Bool?)
    /// CONFIG GET: (name, value) pairs for the patterns (globs, or exact names echoed as given).
    func configGet(_ patterns: [[UInt8]]) -> [(String, String)]
    /// CONFIG SET: nil on success, or the complete error message.
    func configSet(_ pairs: [([UInt8], [UInt8])]) -> String?
    /// Whether a CONFIG SET name (any case, or an alias) is a password directive, whose value
    /// the slow log and the server's log show redacted.
    func isSecretDirective(_ name: String) -> Bool
    /// CONFIG RESETSTAT.
    func resetStats()
    /// CONFIG REWRITE: nil on success, or the error message.
    func configRewrite() -> String?
    /// LASTSAVE: unix time of the last save (TagCache keeps no snapshot: the start time).
    var lastSaveTime: Int { get }
    /// Begin a graceful shutdown (SHUTDOWN): pending replies are written, every client closed.
    func shutdown(client: ClientState)
    /// Whether DEBUG and other test-only commands are allowed.
    /// enable-debug-command: "no", "yes" or "local".
    var debugCommandMode: String { get }
    /// count-reply-max-bytes: the largest reply whose length the request sets rather than the
    /// data (see CountedReply); 0 = no limit. Read only when such a reply is asked for.
    var countReplyMaxBytes: Int { get }
    /// Lua scripting (EVAL, SCRIPT): the server's one engine.
    var scripts: ScriptEngine { get }
    /// redis.log from a script: `level` 0 debug, 1 verbose, 2 notice, 3 warning.
    func scriptLog(level: Int, _ message: String)
}

extension ServerControl {
    /// The directive's default, for stand-ins that have no configuration.
    public var countReplyMaxBytes: Int { CountedReply.defaultMaxBytes }
}

/// CLIENT KILL's filters (new and old forms).
public struct ClientKillFilter {
    public var address: String?
    public var localAddress: String?
    public var id: Int?
    /// "normal", "master", "replica" or "pubsub" ("slave" is given as "replica").
    public var type: String?
    public var user: String?
    public var skipMe = true
    /// Only clients connected at least this many seconds.
    public var maxAge: Int?
    public init() {}
}
