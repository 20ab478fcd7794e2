/// Everything Redis reports about a command — COMMAND INFO's arity, flags, ACL categories, tips
/// and key specs, COMMAND DOCS' summary, history and argument tree — declared once per command
/// and subcommand (Descriptions/*.swift, written by Tests/commands/describe.py from
/// redis-server 7.0.15; TagCache's own commands by hand in the same form). The command table,
/// arity and unknown-subcommand errors, COMMAND and its subcommands all read it; what Redis
/// derives (first/last/step, `movablekeys`, the implicit ACL categories) is derived here the
/// way Redis derives it, never declared twice.
public struct CommandDescription: Sendable {
    /// Lower-case full name: "set", "config|get".
    public let name: String
    /// Redis arity: positive = exact, negative = at least.
    public let arity: Int
    /// The flags COMMAND INFO shows, without `movablekeys` (derived from the key specs).
    public let flags: CommandFlags
    /// The ACL categories the command declares; `categories` adds those its flags imply.
    public let acl: ACLCategories
    public let tips: [String]
    public let keySpecs: [KeySpec]
    public let summary: String?
    public let since: String?
    public let group: CommandGroup
    public let complexity: String?
    public let docFlags: DocFlags
    public let deprecatedSince: String?
    public let replacedBy: String?
    /// (version, what changed), oldest first.
    public let history: [(String, String)]
    public let arguments: [CommandArgument]

    public init(_ name: String, arity: Int, flags: CommandFlags = [], acl: ACLCategories = [], tips: [String] = [],
                keys: [KeySpec] = [], summary: String? = nil, since: String? = nil, group: CommandGroup,
                complexity: String? = nil, docFlags: DocFlags = [], deprecatedSince: String? = nil,
                replacedBy: String? = nil, history: [(String, String)] = [], arguments: [CommandArgument] = []) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.acl = acl
        self.tips = tips
        self.keySpecs = keys
        self.summary = summary
        self.since = since
        self.group = group
        self.complexity = complexity
        self.docFlags = docFlags
        self.deprecatedSince = deprecatedSince
        self.replacedBy = replacedBy
        self.history = history
        self.arguments = arguments
    }

    /// The declared categories plus those Redis derives from the flags (setImplicitACLCategories).
    public var categories: ACLCategories {
        var c = acl
        if flags.contains(.write) { c.insert(.write) }
        if flags.contains(.readonly) && !c.contains(.scripting) { c.insert(.read) }
        if flags.contains(.admin) { c.formUnion([.admin, .dangerous]) }
        if flags.contains(.pubsub) { c.insert(.pubsub) }
        if flags.contains(.fast) { c.insert(.fast) }
        if flags.contains(.blocking) { c.insert(.blocking) }
        if !c.contains(.fast) { c.insert(.slow) }
        return c
    }

    /// COMMAND INFO's first key, last key and step, and whether the keys move (`movablekeys`),
    /// from the key specs as Redis's populateCommandLegacyRangeSpec computes them.
    public var legacyRange: (first: Int, last: Int, step: Int, movable: Bool) {
        if keySpecs.isEmpty { return (0, 0, 0, false) }
        if keySpecs.count == 1, case let .index(pos) = keySpecs[0].begin, case let .range(last, step, _) = keySpecs[0].find {
            return (pos, last >= 0 ? pos + last : last, step, keySpecs[0].flags.contains(.incomplete))
        }
        var movable = false
        var first = Int(Int32.max), last = 0, previousLast = 0
        for s in keySpecs {
            guard case let .index(pos) = s.begin, case let .range(lastKey, step, _) = s.find else {
                movable = true
                continue
            }
            if step != 1 || (previousLast != 0 && previousLast != pos - 1) {
                movable = true
                continue
            }
            if s.flags.contains(.incomplete) { movable = true }
            first = min(first, pos)
            let absolute = lastKey >= 0 ? lastKey + pos : lastKey
            // Redis compares as unsigned, so a negative (count-from-the-end) last key wins.
            last = UInt32(truncatingIfNeeded: last) >= UInt32(truncatingIfNeeded: absolute) ? last : absolute
            previousLast = last
        }
        if first == Int(Int32.max) { return (0, 0, 0, true) }
        return (first, last, 1, movable)
    }
}

/// COMMAND DOCS' group of a command.
public enum CommandGroup: String, Sendable {
    case generic, string, list, set, sortedSet = "sorted-set", hash, pubSub = "pubsub", transactions, connection
    case server, scripting, hyperLogLog = "hyperloglog", cluster, sentinel, geo, stream, bitmap
    /// TagCache's tag commands.
    case tags
}

/// Flags of a command as COMMAND INFO reports them, in Redis's order.
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
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 13)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 14)
    public static let noMulti = CommandFlags(rawValue: 1 << 15)
    /// Derived from the key specs (CommandDescription.legacyRange), never declared.
    public static let movableKeys = CommandFlags(rawValue: 1 << 16)
    public static let allowBusy = CommandFlags(rawValue: 1 << 17)

    /// The names, in the order COMMAND INFO lists them.
    public static let names = ["write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking", "loading",
                               "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth", "no_mandatory_keys",
                               "no_async_loading", "no_multi", "movablekeys", "allow_busy"]
}

/// Redis's ACL categories, in the order COMMAND INFO lists them.
public struct ACLCategories: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let keyspace = ACLCategories(rawValue: 1 << 0)
    public static let read = ACLCategories(rawValue: 1 << 1)
    public static let write = ACLCategories(rawValue: 1 << 2)
    public static let set = ACLCategories(rawValue: 1 << 3)
    public static let sortedset = ACLCategories(rawValue: 1 << 4)
    public static let list = ACLCategories(rawValue: 1 << 5)
    public static let hash = ACLCategories(rawValue: 1 << 6)
    public static let string = ACLCategories(rawValue: 1 << 7)
    public static let bitmap = ACLCategories(rawValue: 1 << 8)
    public static let hyperloglog = ACLCategories(rawValue: 1 << 9)
    public static let geo = ACLCategories(rawValue: 1 << 10)
    public static let stream = ACLCategories(rawValue: 1 << 11)
    public static let pubsub = ACLCategories(rawValue: 1 << 12)
    public static let admin = ACLCategories(rawValue: 1 << 13)
    public static let fast = ACLCategories(rawValue: 1 << 14)
    public static let slow = ACLCategories(rawValue: 1 << 15)
    public static let blocking = ACLCategories(rawValue: 1 << 16)
    public static let dangerous = ACLCategories(rawValue: 1 << 17)
    public static let connection = ACLCategories(rawValue: 1 << 18)
    public static let transaction = ACLCategories(rawValue: 1 << 19)
    public static let scripting = ACLCategories(rawValue: 1 << 20)

    public static let names = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                               "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
                               "dangerous", "connection", "transaction", "scripting"]

    /// The category named (lower-case, without '@'), or nil.
    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name) else { return nil }
        self.init(rawValue: 1 << UInt32(i))
    }
}

/// COMMAND DOCS' doc_flags.
public struct DocFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let deprecated = DocFlags(rawValue: 1 << 0)
    public static let syscmd = DocFlags(rawValue: 1 << 1)
    public static let names = ["deprecated", "syscmd"]
}

/// One argument of COMMAND DOCS' argument tree; oneof and block arguments hold their own.
public struct CommandArgument: Sendable {
    public enum Kind: String, Sendable {
        case string, integer, double, key, pattern, unixTime = "unix-time", pureToken = "pure-token", oneof, block
    }

    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let optional = Flags(rawValue: 1 << 0)
        public static let multiple = Flags(rawValue: 1 << 1)
        public static let multipleToken = Flags(rawValue: 1 << 2)
        public static let names = ["optional", "multiple", "multiple_token"]
    }

    public let name: String
    public let kind: Kind
    /// The index of the key spec that finds this argument (key arguments), or nil.
    public let keySpec: Int?
    public let token: String?
    public let summary: String?
    public let since: String?
    public let deprecatedSince: String?
    public let flags: Flags
    public let arguments: [CommandArgument]

    public init(_ name: String, _ kind: Kind, keySpec: Int? = nil, token: String? = nil, summary: String? = nil,
                since: String? = nil, deprecatedSince: String? = nil, flags: Flags = [], _ arguments: [CommandArgument] = []) {
        self.name = name
        self.kind = kind
        self.keySpec = keySpec
        self.token = token
        self.summary = summary
        self.since = since
        self.deprecatedSince = deprecatedSince
        self.flags = flags
        self.arguments = arguments
    }
}

extension OptionSet where RawValue: FixedWidthInteger {
    /// The members' names, given the names of bits 0, 1, 2... in order.
    func names(_ all: [String]) -> [String] {
        all.indices.filter { rawValue & (1 << RawValue($0)) != 0 }.map { all[$0] }
    }
}
