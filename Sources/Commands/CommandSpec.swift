import RESP

/// Flags of a command as COMMAND INFO reports them.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let noMulti = CommandFlags(rawValue: 1 << 14)
    public static let allowBusy = CommandFlags(rawValue: 1 << 15)
    public static let sentinel = CommandFlags(rawValue: 1 << 16)
    public static let onlySentinel = CommandFlags(rawValue: 1 << 17)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 18)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)

    /// Names in the order Redis lists them.
    static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"),
        (.fast, "fast"), (.noAuth, "no_auth"), (.mayReplicate, "may_replicate"), (.noMulti, "no_multi"),
        (.noMandatoryKeys, "no_mandatory_keys"), (.allowBusy, "allow_busy"),
    ]

    public var nameList: [String] { CommandFlags.names.filter { contains($0.0) }.map { $0.1 } }
}

/// A command's handler: runs with the client's context and the request's arguments.
public typealias CommandHandler = (CommandContext, Arguments) -> Void

/// One row of the command table. COMMAND, COMMAND INFO/DOCS, arity and unknown-command
/// errors all come from these rows.
// @unchecked Sendable: lets, plus subcommands, parent and id set while the table is built, before any loop runs.
public final class CommandSpec: @unchecked Sendable {
    /// Lower-case name; for subcommands "parent|sub".
    public let name: String
    public let nameBytes: [UInt8]
    /// Redis arity: positive = exact, negative = at least.
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    /// COMMAND DOCS group ("string", "generic", "connection", "server", ...).
    public let group: String
    public let summary: String
    public let since: String
    public let complexity: String
    /// ACL categories without the '@'.
    public let categories: [String]
    public let handler: CommandHandler
    public private(set) var subcommands: [CommandSpec] = []
    public weak var parent: CommandSpec?
    /// Index into the per-loop call counters (assigned by the table).
    public internal(set) var id = 0

    public init(_ name: String, arity: Int, flags: CommandFlags, keys: (Int, Int, Int) = (0, 0, 0),
                group: String, summary: String, since: String = "1.0.0", complexity: String = "O(1)",
                categories: [String] = [], handler: @escaping CommandHandler) {
        self.name = name
        self.nameBytes = Array(name.utf8)
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.0
        self.lastKey = keys.1
        self.keyStep = keys.2
        self.group = group
        self.summary = summary
        self.since = since
        self.complexity = complexity
        self.categories = categories
        self.handler = handler
    }

    /// Adds subcommands (CLIENT, CONFIG, COMMAND ...); their names become "parent|sub".
    @discardableResult
    public func with(_ subs: [CommandSpec]) -> CommandSpec {
        for s in subs { s.parent = self }
        subcommands = subs
        return self
    }

    /// The name Redis prints in errors and INFO ("get", "client|setname").
    public var fullName: String { parent.map { "\($0.name)|\(name)" } ?? name }

    public func subcommand(_ b: Bytes) -> CommandSpec? {
        for s in subcommands where s.nameBytes.count == b.count {
            var eq = true
            for i in 0..<b.count {
                var c = b[i]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c != s.nameBytes[i] { eq = false; break }
            }
            if eq { return s }
        }
        return nil
    }

    /// Arity check as Redis does it.
    @inline(__always)
    public func arityAccepts(_ n: Int) -> Bool { arity > 0 ? n == arity : n >= -arity }
}

