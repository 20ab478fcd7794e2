import RESP

/// A command's handler: runs with the client's context and the request's arguments.
public typealias CommandHandler = (CommandContext, Arguments) -> Void

/// One row of the command table: a command's description bound to its handler. Everything
/// Redis reports about the command comes from `described`; the row adds what the request path
/// needs at hand (name bytes for lookup, arity, flags with `movablekeys`) and its place in the
/// table (id, parent, subcommands).
// @unchecked Sendable: lets, plus subcommands, parent and id set while the table is built, before any loop runs.
public final class CommandSpec: @unchecked Sendable {
    /// Lower-case own name: "get"; for a subcommand the part after '|' ("get" of "config|get").
    public let name: String
    public let nameBytes: [UInt8]
    /// Redis arity: positive = exact, negative = at least.
    public let arity: Int
    /// The declared flags plus `movableKeys` when the key specs make the keys move.
    public let flags: CommandFlags
    public let handler: CommandHandler
    public private(set) var subcommands: [CommandSpec] = []
    public weak var parent: CommandSpec?
    /// Index into the per-loop call counters (assigned by the table).
    public internal(set) var id = 0
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT,
    /// RESET), as Redis's processCommand decides.
    public let runsInsideMulti: Bool
    /// Runs a script (EVAL, FCALL...), which may touch any key: inside a transaction it makes
    /// EXEC lock every shard.
    public let runsScripts: Bool
    /// Where the keys are when the key specs put them at fixed positions (first, last with a
    /// negative last counted from the end, step), as COMMAND INFO's legacy range; nil when they
    /// move (keyword or key-count specs) or the command declares none.
    public let keyRange: (first: Int, last: Int, step: Int)?
    /// Last, so the fields the request path reads share the object's first cache line.
    public let described: CommandDescription

    /// A command and its handler; a container (CONFIG, CLIENT...) passes its subcommands and
    /// needs a handler only if it runs without one (COMMAND).
    public init(_ described: CommandDescription, _ handler: CommandHandler? = nil, subcommands: [CommandSpec] = []) {
        self.described = described
        self.name = String(described.name.split(separator: "|").last ?? "")
        self.nameBytes = Array(name.utf8)
        self.arity = described.arity
        let legacy = described.legacyRange
        self.flags = legacy.movable ? described.flags.union(.movableKeys) : described.flags
        runsInsideMulti = ["exec", "discard", "multi", "watch", "quit", "reset"].contains(described.name)
        runsScripts = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"].contains(described.name)
        let fixed = described.keySpecs.allSatisfy { s in
            guard s.findsEveryKey, case let .range(_, _, limit) = s.find else { return false }
            return limit <= 1
        }
        keyRange = !described.keySpecs.isEmpty && !legacy.movable && fixed && legacy.first > 0
            ? (legacy.first, legacy.last, max(legacy.step, 1)) : nil
        self.handler = handler ?? { ctx, _ in ctx.wrongArity() } // unreachable: the arity check comes first
        self.subcommands = subcommands
        for s in subcommands {
            precondition(s.described.name == described.name + "|" + s.name, "\(s.described.name) is not a subcommand of \(described.name)")
            s.parent = self
        }
    }

    /// The name Redis prints in errors and INFO ("get", "client|setname").
    public var fullName: String { described.name }

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
