import Glibc
import RESP
import Store

/// One SLOWLOG entry, as Redis 7 keeps it: arguments already cut to what the log shows.
public struct SlowlogEntry: Sendable {
    public let id: Int
    /// Unix time in seconds when the command ran.
    public let time: Int
    public let microseconds: Int
    public let arguments: [[UInt8]]
    public let peer: String
    public let clientName: [UInt8]
}

/// The slow log shared by every event loop: the newest `maxLength` commands that ran at least
/// slowlog-log-slower-than microseconds. Only slow commands reach it, so a lock is fine here.
public final class Slowlog: Sendable {
    /// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
    static let maxArguments = 32
    static let maxArgumentBytes = 128

    private struct State {
        /// Oldest first.
        var entries: [SlowlogEntry] = []
        var nextId = 0
        var maxLength = 128

        mutating func trim() {
            if entries.count > maxLength { entries.removeFirst(entries.count - maxLength) }
        }
    }

    private let state = Locked(State())

    public init() {}

    /// slowlog-max-len: the log is trimmed at once, as Redis trims on its next push.
    public func setMaxLength(_ n: Int) {
        state.withLock {
            $0.maxLength = max(n, 0)
            $0.trim()
        }
    }

    /// Logs a command (the caller decided it is slow enough).
    func push(arguments: [[UInt8]], microseconds: Int, time: Int, peer: String, clientName: [UInt8]) {
        state.withLock {
            $0.entries.append(SlowlogEntry(id: $0.nextId, time: time, microseconds: microseconds, arguments: arguments,
                                           peer: peer, clientName: clientName))
            $0.nextId += 1
            $0.trim()
        }
    }

    /// The newest `count` entries, newest first (all of them when count is nil).
    public func newest(_ count: Int?) -> [SlowlogEntry] {
        state.withLock {
            let n = min(count ?? $0.entries.count, $0.entries.count)
            return Array($0.entries.suffix(n).reversed())
        }
    }

    public var length: Int { state.withLock { $0.entries.count } }

    /// The id the next entry gets (redis_exporter's slowlog_last_id is this minus one).
    public var lastId: Int { state.withLock { $0.nextId - 1 } }

    /// SLOWLOG RESET: ids keep counting, as in Redis.
    public func reset() {
        state.withLock { $0.entries.removeAll() }
    }

    /// The arguments as Redis logs them: at most 32 (the last one then says how many more there
    /// were), each cut at 128 bytes with how many more there were, passwords redacted (CONFIG
    /// SET's values of the directives `secret` names).
    static func loggedArguments(_ spec: CommandSpec, _ args: Arguments, secret: (String) -> Bool) -> [[UInt8]] {
        let argc = args.count
        let kept = min(argc, maxArguments)
        var redacted = Set<Int>()
        let name = spec.fullName
        if name == "auth" {
            redacted.formUnion(1..<max(argc, 1))
        } else if name == "hello" {
            var i = 2
            while i < argc {
                if args[i].equalsIgnoringCase("AUTH") && i + 2 < argc {
                    redacted.insert(i + 1)
                    redacted.insert(i + 2)
                    i += 3
                } else if args[i].equalsIgnoringCase("SETNAME") {
                    i += 2
                } else {
                    i += 1
                }
            }
        } else if name == "config|set" {
            var i = 2
            while i + 1 < argc {
                if secret(args[i].string) { redacted.insert(i + 1) }
                i += 2
            }
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(kept)
        for j in 0..<kept {
            if kept != argc && j == kept - 1 {
                out.append(Array("... (\(argc - kept + 1) more arguments)".utf8))
            } else if redacted.contains(j) {
                out.append(Array("(redacted)".utf8))
            } else {
                let a = args[j]
                if a.count > maxArgumentBytes {
                    out.append(Array(a[0..<maxArgumentBytes]) + Array("... (\(a.count - maxArgumentBytes) more bytes)".utf8))
                } else {
                    out.append(Array(a))
                }
            }
        }
        return out
    }
}

/// SLOWLOG GET / LEN / RESET / HELP, with Redis 7's replies.
public enum SlowlogCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.slowlog, subcommands: [
            CommandSpec(.slowlogGet, get),
            CommandSpec(.slowlogLen, len),
            CommandSpec(.slowlogReset, reset),
            CommandSpec(.slowlogHelp, help),
        ]),
    ]


    static func get(_ ctx: CommandContext, _ args: Arguments) {
        let log = ctx.counters.slowlog
        if args.count > 3 {
            ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '\(Dispatcher.truncate(args[1].string, 128))'. Try SLOWLOG HELP.")
            return
        }
        var count: Int? = 10
        if args.count == 3 {
            guard let n = args[2].redisInteger, n >= -1 else {
                ctx.reply.error("ERR count should be greater than or equal to -1")
                return
            }
            count = n == -1 ? nil : n
        }
        let entries = log.newest(count)
        let r = ctx.reply
        r.array(entries.count)
        for e in entries {
            r.array(6)
            r.integer(e.id)
            r.integer(e.time)
            r.integer(e.microseconds)
            r.array(e.arguments.count)
            for a in e.arguments { a.withUnsafeBufferPointer { r.bulk($0) } }
            r.bulk(string: e.peer)
            e.clientName.withUnsafeBufferPointer { r.bulk($0) }
        }
    }

    static func len(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(ctx.counters.slowlog.length) }

    static func reset(_ ctx: CommandContext, _ args: Arguments) {
        ctx.counters.slowlog.reset()
        ctx.reply.ok()
    }

    static func help(_ ctx: CommandContext, _ args: Arguments) {
        ConnectionCommands.help(ctx, [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ])
    }
}
