import RESP
import Store

/// INFO, COMMAND, CONFIG, TIME, SHUTDOWN, LASTSAVE, SAVE, BGSAVE: the server as a whole. COMMAND's
/// replies are generated from the command table, as in Redis.
public enum ServerCommands {
    public static let all: [CommandSpec] = [
        CommandSpec("info", arity: -1, flags: [.loading, .stale], group: "server",
                    summary: "Get information and statistics about the server", categories: ["slow", "dangerous"],
                    handler: info),
        CommandSpec("command", arity: -1, flags: [.loading, .stale], group: "server",
                    summary: "Get array of Redis command details", since: "2.8.13",
                    complexity: "O(N) where N is the total number of Redis commands", categories: ["slow", "connection"],
                    handler: command).with(commandSubcommands),
        CommandSpec("config", arity: -2, flags: [], group: "server",
                    summary: "A container for server configuration commands", since: "2.0.0",
                    complexity: "Depends on subcommand.", categories: ["slow"], handler: ConnectionCommands.container)
            .with(configSubcommands),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    summary: "Return the current server time", since: "2.6.0", categories: ["fast"], handler: time),
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy], group: "server",
                    summary: "Synchronously save the dataset to disk and then shut down the server",
                    complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
                    categories: ["admin", "slow", "dangerous"], handler: shutdown),
        CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    summary: "Get the UNIX time stamp of the last successful save to disk",
                    categories: ["admin", "fast", "dangerous"], handler: lastsave),
        CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: "server",
                    summary: "Synchronously save the dataset to disk",
                    complexity: "O(N) where N is the total number of keys in all databases",
                    categories: ["admin", "slow", "dangerous"], handler: save),
        CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], group: "server",
                    summary: "Asynchronously save the dataset to disk", categories: ["admin", "slow", "dangerous"],
                    handler: save),
    ]

    static var commandSubcommands: [CommandSpec] {
        let flags: CommandFlags = [.loading, .stale]
        let cats = ["slow", "connection"]
        return [
            CommandSpec("count", arity: 2, flags: flags, group: "server", summary: "Get total number of Redis commands",
                        since: "2.8.13", categories: cats, handler: commandCount),
            CommandSpec("info", arity: -2, flags: flags, group: "server",
                        summary: "Get array of specific Redis command details, or all when no argument is given.",
                        since: "2.8.13", complexity: "O(N) where N is the number of commands to look up",
                        categories: cats, handler: commandInfo),
            CommandSpec("docs", arity: -2, flags: flags, group: "server",
                        summary: "Get array of specific Redis command documentation", since: "7.0.0",
                        complexity: "O(N) where N is the number of commands to look up", categories: cats,
                        handler: commandDocs),
            CommandSpec("list", arity: -2, flags: flags, group: "server", summary: "Get an array of Redis command names",
                        since: "7.0.0", complexity: "O(N) where N is the total number of Redis commands",
                        categories: cats, handler: commandList),
            CommandSpec("getkeys", arity: -4, flags: flags, group: "server",
                        summary: "Extract keys given a full Redis command", since: "2.8.13",
                        complexity: "O(N) where N is the number of arguments to the command", categories: cats,
                        handler: commandGetKeys),
            CommandSpec("getkeysandflags", arity: -4, flags: flags, group: "server",
                        summary: "Extract keys and access flags given a full Redis command", since: "7.0.0",
                        complexity: "O(N) where N is the number of arguments to the command", categories: cats,
                        handler: commandGetKeys),
            CommandSpec("help", arity: 2, flags: flags, group: "server",
                        summary: "Show helpful text about the different subcommands", since: "5.0.0",
                        categories: cats, handler: commandHelp),
        ]
    }

    static var configSubcommands: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .loading, .stale]
        let cats = ["admin", "slow", "dangerous"]
        return [
            CommandSpec("get", arity: -3, flags: flags, group: "server", summary: "Get the values of configuration parameters",
                        since: "2.0.0", complexity: "O(N) when N is the number of configuration parameters provided",
                        categories: cats, handler: configGet),
            CommandSpec("set", arity: -4, flags: flags, group: "server", summary: "Set configuration parameters to the given values",
                        since: "2.0.0", complexity: "O(N) when N is the number of configuration parameters provided",
                        categories: cats, handler: configSet),
            CommandSpec("resetstat", arity: 2, flags: flags, group: "server", summary: "Reset the stats returned by INFO",
                        since: "2.0.0", categories: cats, handler: configResetStat),
            CommandSpec("rewrite", arity: 2, flags: flags, group: "server",
                        summary: "Rewrite the configuration file with the in memory configuration", since: "2.8.0",
                        categories: cats, handler: configRewrite),
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                        summary: "Show helpful text about the different subcommands", since: "5.0.0",
                        categories: ["slow"], handler: configHelp),
        ]
    }

    // MARK: INFO, TIME, LASTSAVE, SAVE, SHUTDOWN

    static func info(_ ctx: CommandContext, _ args: Arguments) {
        let sections = (1..<max(args.count, 1)).map { args[$0].lowercasedString }
        ctx.reply.verbatim(ctx.server.info(sections: sections, client: ctx.client))
    }

    static func time(_ ctx: CommandContext, _ args: Arguments) {
        let us = Int(ctx.keyspace.clock.nowUs())
        ctx.reply.array(2)
        ctx.reply.bulkDecimal(us / 1_000_000)
        ctx.reply.bulkDecimal(us % 1_000_000)
    }

    static func lastsave(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(ctx.server.lastSaveTime) }

    /// SAVE and BGSAVE: TagCache keeps no snapshot, so it says so rather than pretend one was written.
    static func save(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 2 || (args.count == 2 && !args[1].equalsIgnoringCase("SCHEDULE")) {
            ctx.syntaxError()
            return
        }
        ctx.reply.error("ERR TagCache keeps no snapshot: persistence is not supported")
    }

    static func shutdown(_ ctx: CommandContext, _ args: Arguments) {
        var save = false, noSave = false, abort = false, other = false
        for i in 1..<max(args.count, 1) {
            let a = args[i]
            if a.equalsIgnoringCase("NOSAVE") { noSave = true }
            else if a.equalsIgnoringCase("SAVE") { save = true }
            else if a.equalsIgnoringCase("NOW") || a.equalsIgnoringCase("FORCE") { other = true }
            else if a.equalsIgnoringCase("ABORT") { abort = true }
            else { ctx.syntaxError(); return }
        }
        if (abort && (save || noSave || other)) || (save && noSave) {
            ctx.syntaxError()
            return
        }
        if abort {
            // Shutdown never waits here (no replicas to catch up, nothing to save): nothing to abort.
            ctx.reply.error("ERR No shutdown in progress.")
            return
        }
        // No reply: the connection closes with the server, as Redis's does when it exits.
        ctx.client.closeAfterReply = true
        ctx.server.shutdown(client: ctx.client)
    }

    // MARK: CONFIG

    static func configGet(_ ctx: CommandContext, _ args: Arguments) {
        let pairs = ctx.server.configGet((2..<args.count).map { args[$0].array })
        ctx.reply.map(pairs.count)
        for (k, v) in pairs {
            ctx.reply.bulk(string: k)
            ctx.reply.bulk(string: v)
        }
    }

    static func configSet(_ ctx: CommandContext, _ args: Arguments) {
        if args.count % 2 != 0 { ctx.syntaxError(); return }
        var pairs: [([UInt8], [UInt8])] = []
        var i = 2
        while i < args.count {
            pairs.append((args[i].array, args[i + 1].array))
            i += 2
        }
        if let err = ctx.server.configSet(pairs) { ctx.reply.error(err) } else { ctx.reply.ok() }
    }

    static func configResetStat(_ ctx: CommandContext, _ args: Arguments) {
        ctx.server.resetStats()
        ctx.reply.ok()
    }

    static func configRewrite(_ ctx: CommandContext, _ args: Arguments) {
        if let err = ctx.server.configRewrite() { ctx.reply.error(err) } else { ctx.reply.ok() }
    }

    static func configHelp(_ ctx: CommandContext, _ args: Arguments) {
        ConnectionCommands.help(ctx, [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        ])
    }

    // MARK: COMMAND

    static func command(_ ctx: CommandContext, _ args: Arguments) {
        let cmds = ctx.table.commands
        ctx.reply.array(cmds.count)
        for c in cmds { CommandDescription.info(c, ctx.reply) }
    }

    static func commandCount(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(ctx.table.commands.count) }

    /// A command by name as COMMAND INFO/DOCS take it: "get", "client|list" (any case).
    static func find(_ ctx: CommandContext, _ name: Bytes) -> CommandSpec? {
        let n = name.lowercasedString
        let parts = n.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        guard let top = ctx.table.lookup(name: String(parts[0])) else { return nil }
        if parts.count == 1 { return top }
        return top.subcommands.first { $0.name == parts[1] }
    }

    static func commandInfo(_ ctx: CommandContext, _ args: Arguments) {
        if args.count == 2 { command(ctx, args); return }
        ctx.reply.array(args.count - 2)
        for i in 2..<args.count {
            if let c = find(ctx, args[i]) { CommandDescription.info(c, ctx.reply) } else { ctx.reply.null() }
        }
    }

    static func commandDocs(_ ctx: CommandContext, _ args: Arguments) {
        var specs: [CommandSpec] = []
        if args.count == 2 {
            specs = ctx.table.commands
        } else {
            for i in 2..<args.count { if let c = find(ctx, args[i]) { specs.append(c) } }
        }
        ctx.reply.map(specs.count)
        for c in specs {
            ctx.reply.bulk(string: c.fullName)
            CommandDescription.docs(c, ctx.reply)
        }
    }

    static func commandList(_ ctx: CommandContext, _ args: Arguments) {
        var filter: ((CommandSpec) -> Bool)?
        var i = 2
        while i < args.count {
            guard args[i].equalsIgnoringCase("FILTERBY") && args.count - 1 - i == 2 else {
                ctx.syntaxError()
                return
            }
            let kind = args[i + 1], value = args[i + 2]
            if kind.equalsIgnoringCase("MODULE") {
                filter = { _ in false } // TagCache loads no modules
            } else if kind.equalsIgnoringCase("ACLCAT") {
                let cat = value.lowercasedString
                filter = { CommandDescription.categories($0).contains(cat) }
            } else if kind.equalsIgnoringCase("PATTERN") {
                let p = value.array
                filter = { GlobPattern.matches(pattern: p, Array($0.fullName.utf8), ignoreCase: true) }
            } else {
                ctx.syntaxError()
                return
            }
            i += 3
        }
        var names: [String] = []
        for c in ctx.table.commands {
            for s in [c] + c.subcommands where filter?(s) ?? true { names.append(s.fullName) }
        }
        ctx.reply.array(names.count)
        for n in names { ctx.reply.bulk(string: n) }
    }

    static func commandGetKeys(_ ctx: CommandContext, _ args: Arguments) {
        let withFlags = ctx.current?.name == "getkeysandflags"
        guard var spec = ctx.table.lookup(args[2]) else {
            ctx.reply.error("ERR Invalid command specified")
            return
        }
        if !spec.subcommands.isEmpty && args.count > 3 {
            guard let sub = spec.subcommand(args[3]) else {
                ctx.reply.error("ERR Invalid command specified")
                return
            }
            spec = sub
        }
        let keySpecs = CommandDescription.keySpecs(spec)
        if keySpecs.isEmpty {
            ctx.reply.error("ERR The command has no key arguments")
            return
        }
        let argc = args.count - 2
        if !spec.arityAccepts(argc) {
            ctx.reply.error("ERR Invalid number of arguments specified for command")
            return
        }
        guard let keys = CommandDescription.keys(keySpecs, argc: argc, { args[$0 + 2] }), !keys.isEmpty else {
            if spec.flags.contains(.noMandatoryKeys) { ctx.reply.array(0) } else {
                ctx.reply.error("ERR Invalid arguments specified for command")
            }
            return
        }
        ctx.reply.array(keys.count)
        for (index, specFlags) in keys {
            if withFlags {
                var flags = specFlags
                // SET's flags depend on its arguments (Redis's setGetKeys): GET makes it read too.
                if spec.name == "set" && flags.contains("variable_flags") {
                    let get = (3..<argc).contains { args[$0 + 2].equalsIgnoringCase("GET") }
                    flags = get ? ["RW", "access", "update"] : ["OW", "update"]
                }
                ctx.reply.array(2)
                ctx.reply.bulk(args[index + 2])
                ctx.reply.set(flags.count)
                for f in flags { ctx.reply.simple(string: f) }
            } else {
                ctx.reply.bulk(args[index + 2])
            }
        }
    }

    static func commandHelp(_ ctx: CommandContext, _ args: Arguments) {
        ConnectionCommands.help(ctx, [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ])
    }
}

/// One key specification of COMMAND INFO: where a command's keys start and how to find them.
struct KeySpec {
    enum Begin { case index(Int), keyword(String, startFrom: Int), unknown }
    enum Find { case range(lastKey: Int, keyStep: Int, limit: Int), keyNum(index: Int, firstKey: Int, keyStep: Int), unknown }
    var flags: [String]
    var begin: Begin
    var find: Find
    var notes: String?

    /// Parses "FLAG,FLAG@<begin>:<find>[#notes]": begin `i<index>`, `k<keyword>,<startfrom>` or
    /// `u`; find `r<lastkey>,<keystep>,<limit>`, `n<keynumidx>,<firstkey>,<keystep>` or `u`.
    init?(_ text: Substring) {
        var body = text
        if let hash = text.firstIndex(of: "#") {
            notes = String(text[text.index(after: hash)...])
            body = text[..<hash]
        }
        let at = body.split(separator: "@", maxSplits: 1)
        guard at.count == 2 else { return nil }
        flags = at[0].split(separator: ",").map(String.init)
        let parts = at[1].split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let b = parts[0].first, let f = parts[1].first else { return nil }
        let bArgs = parts[0].dropFirst().split(separator: ",")
        let fArgs = parts[1].dropFirst().split(separator: ",").compactMap { Int($0) }
        switch b {
        case "i": begin = .index(Int(bArgs.first ?? "") ?? 0)
        case "k": begin = .keyword(String(bArgs.first ?? ""), startFrom: Int(bArgs.last ?? "") ?? 1)
        default: begin = .unknown
        }
        switch f {
        case "r" where fArgs.count == 3: find = .range(lastKey: fArgs[0], keyStep: fArgs[1], limit: fArgs[2])
        case "n" where fArgs.count == 3: find = .keyNum(index: fArgs[0], firstKey: fArgs[1], keyStep: fArgs[2])
        default: find = .unknown
        }
    }

    init(flags: [String], begin: Begin, find: Find) {
        self.flags = flags
        self.begin = begin
        self.find = find
    }

    /// Redis 7's key specs of the commands TagCache shares with it (from `COMMAND INFO` of
    /// redis-server 7), used because the table's first/last/step do not carry access flags.
    static let redisKeySpecs: [String: String] = [
        "append": "RW,insert@i1:r0,1,0",
        "blmove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "blmpop": "RW,access,delete@i2:n0,1,1",
        "blpop": "RW,access,delete@i1:r-2,1,0",
        "brpop": "RW,access,delete@i1:r-2,1,0",
        "brpoplpush": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "copy": "RO,access@i1:r0,1,0;OW,update@i2:r0,1,0",
        "decr": "RW,access,update@i1:r0,1,0",
        "decrby": "RW,access,update@i1:r0,1,0",
        "del": "RM,delete@i1:r-1,1,0",
        "dump": "RO,access@i1:r0,1,0",
        "exists": "RO@i1:r-1,1,0",
        "expire": "RW,update@i1:r0,1,0",
        "expireat": "RW,update@i1:r0,1,0",
        "expiretime": "RO,access@i1:r0,1,0",
        "get": "RO,access@i1:r0,1,0",
        "getdel": "RW,access,delete@i1:r0,1,0",
        "getex": "RW,access,update@i1:r0,1,0#RW and UPDATE because it changes the TTL",
        "getrange": "RO,access@i1:r0,1,0",
        "getset": "RW,access,update@i1:r0,1,0",
        "hdel": "RW,delete@i1:r0,1,0",
        "hexists": "RO@i1:r0,1,0",
        "hget": "RO,access@i1:r0,1,0",
        "hgetall": "RO,access@i1:r0,1,0",
        "hincrby": "RW,access,update@i1:r0,1,0",
        "hincrbyfloat": "RW,access,update@i1:r0,1,0",
        "hkeys": "RO,access@i1:r0,1,0",
        "hlen": "RO@i1:r0,1,0",
        "hmget": "RO,access@i1:r0,1,0",
        "hmset": "RW,update@i1:r0,1,0",
        "hrandfield": "RO,access@i1:r0,1,0",
        "hscan": "RO,access@i1:r0,1,0",
        "hset": "RW,update@i1:r0,1,0",
        "hsetnx": "RW,insert@i1:r0,1,0",
        "hstrlen": "RO@i1:r0,1,0",
        "hvals": "RO,access@i1:r0,1,0",
        "incr": "RW,access,update@i1:r0,1,0",
        "incrby": "RW,access,update@i1:r0,1,0",
        "incrbyfloat": "RW,access,update@i1:r0,1,0",
        "lcs": "RO,access@i1:r1,1,0",
        "lindex": "RO,access@i1:r0,1,0",
        "linsert": "RW,insert@i1:r0,1,0",
        "llen": "RO@i1:r0,1,0",
        "lmove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "lmpop": "RW,access,delete@i1:n0,1,1",
        "lpop": "RW,access,delete@i1:r0,1,0",
        "lpos": "RO,access@i1:r0,1,0",
        "lpush": "RW,insert@i1:r0,1,0",
        "lpushx": "RW,insert@i1:r0,1,0",
        "lrange": "RO,access@i1:r0,1,0",
        "lrem": "RW,delete@i1:r0,1,0",
        "lset": "RW,update@i1:r0,1,0",
        "ltrim": "RW,delete@i1:r0,1,0",
        "memory|usage": "RO@i2:r0,1,0",
        "mget": "RO,access@i1:r-1,1,0",
        "migrate": "RW,access,delete@i3:r0,1,0;RW,access,delete,incomplete@kKEYS,-2:r-1,1,0",
        "move": "RW,access,update@i1:r0,1,0",
        "mset": "OW,update@i1:r-1,2,0",
        "msetnx": "OW,insert@i1:r-1,2,0",
        "object|encoding": "RO@i2:r0,1,0",
        "object|freq": "RO@i2:r0,1,0",
        "object|idletime": "RO@i2:r0,1,0",
        "object|refcount": "RO@i2:r0,1,0",
        "persist": "RW,update@i1:r0,1,0",
        "pexpire": "RW,update@i1:r0,1,0",
        "pexpireat": "RW,update@i1:r0,1,0",
        "pexpiretime": "RO,access@i1:r0,1,0",
        "psetex": "OW,update@i1:r0,1,0",
        "pttl": "RO,access@i1:r0,1,0",
        "rename": "RW,access,delete@i1:r0,1,0;OW,update@i2:r0,1,0",
        "renamenx": "RW,access,delete@i1:r0,1,0;OW,insert@i2:r0,1,0",
        "restore": "OW,update@i1:r0,1,0",
        "restore-asking": "OW,update@i1:r0,1,0",
        "rpop": "RW,access,delete@i1:r0,1,0",
        "rpoplpush": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "rpush": "RW,insert@i1:r0,1,0",
        "rpushx": "RW,insert@i1:r0,1,0",
        "sadd": "RW,insert@i1:r0,1,0",
        "scard": "RO@i1:r0,1,0",
        "sdiff": "RO,access@i1:r-1,1,0",
        "sdiffstore": "OW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "set": "RW,access,update,variable_flags@i1:r0,1,0#RW and ACCESS due to the optional `GET` argument",
        "setex": "OW,update@i1:r0,1,0",
        "setnx": "OW,insert@i1:r0,1,0",
        "setrange": "RW,update@i1:r0,1,0",
        "sinter": "RO,access@i1:r-1,1,0",
        "sintercard": "RO,access@i1:n0,1,1",
        "sinterstore": "RW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "sismember": "RO@i1:r0,1,0",
        "smembers": "RO,access@i1:r0,1,0",
        "smismember": "RO,access@i1:r0,1,0",
        "smove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "sort": "RO,access@i1:r0,1,0;RO,access@u:u#For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort;OW,update@u:u#For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
        "sort_ro": "RO,access@i1:r0,1,0;RO,access@u:u#For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
        "spop": "RW,access,delete@i1:r0,1,0",
        "srandmember": "RO,access@i1:r0,1,0",
        "srem": "RW,delete@i1:r0,1,0",
        "sscan": "RO,access@i1:r0,1,0",
        "strlen": "RO@i1:r0,1,0",
        "substr": "RO,access@i1:r0,1,0",
        "sunion": "RO,access@i1:r-1,1,0",
        "sunionstore": "OW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "touch": "RO@i1:r-1,1,0",
        "ttl": "RO,access@i1:r0,1,0",
        "type": "RO@i1:r0,1,0",
        "unlink": "RM,delete@i1:r-1,1,0",
        "watch": "RO@i1:r-1,1,0",
    ]
}

/// Redis 7's command tips (COMMAND INFO's 8th field) for the commands TagCache shares with it.
enum CommandTips {
    static let redisTips: [String: [String]] = [
        "client|info": ["nondeterministic_output"],
        "client|list": ["nondeterministic_output"],
        "command": ["nondeterministic_output_order"],
        "command|docs": ["nondeterministic_output_order"],
        "command|info": ["nondeterministic_output_order"],
        "command|list": ["nondeterministic_output_order"],
        "config|set": ["request_policy:all_nodes", "response_policy:all_succeeded"],
        "dbsize": ["request_policy:all_shards", "response_policy:agg_sum"],
        "del": ["request_policy:multi_shard", "response_policy:agg_sum"],
        "dump": ["nondeterministic_output"],
        "exists": ["request_policy:multi_shard", "response_policy:agg_sum"],
        "flushall": ["request_policy:all_shards", "response_policy:all_succeeded"],
        "flushdb": ["request_policy:all_shards", "response_policy:all_succeeded"],
        "hgetall": ["nondeterministic_output_order"],
        "hkeys": ["nondeterministic_output_order"],
        "hrandfield": ["nondeterministic_output"],
        "hscan": ["nondeterministic_output"],
        "hvals": ["nondeterministic_output_order"],
        "info": ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        "keys": ["request_policy:all_shards", "nondeterministic_output_order"],
        "lastsave": ["nondeterministic_output"],
        "latency|doctor": ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        "latency|graph": ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        "latency|histogram": ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        "latency|history": ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        "latency|latest": ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
        "latency|reset": ["request_policy:all_nodes", "response_policy:all_succeeded"],
        "memory|doctor": ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        "memory|malloc-stats": ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        "memory|purge": ["request_policy:all_shards", "response_policy:all_succeeded"],
        "memory|stats": ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        "mget": ["request_policy:multi_shard"],
        "migrate": ["nondeterministic_output"],
        "module|list": ["nondeterministic_output_order"],
        "mset": ["request_policy:multi_shard", "response_policy:all_succeeded"],
        "msetnx": ["request_policy:multi_shard", "response_policy:agg_min"],
        "object|encoding": ["nondeterministic_output"],
        "object|freq": ["nondeterministic_output"],
        "object|idletime": ["nondeterministic_output"],
        "object|refcount": ["nondeterministic_output"],
        "ping": ["request_policy:all_shards", "response_policy:all_succeeded"],
        "pttl": ["nondeterministic_output"],
        "randomkey": ["request_policy:all_shards", "nondeterministic_output"],
        "scan": ["nondeterministic_output", "request_policy:special"],
        "sdiff": ["nondeterministic_output_order"],
        "sinter": ["nondeterministic_output_order"],
        "slowlog|get": ["request_policy:all_nodes", "nondeterministic_output"],
        "slowlog|len": ["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"],
        "slowlog|reset": ["request_policy:all_nodes", "response_policy:all_succeeded"],
        "smembers": ["nondeterministic_output_order"],
        "spop": ["nondeterministic_output"],
        "srandmember": ["nondeterministic_output"],
        "sscan": ["nondeterministic_output"],
        "sunion": ["nondeterministic_output_order"],
        "time": ["nondeterministic_output"],
        "touch": ["request_policy:multi_shard", "response_policy:agg_sum"],
        "ttl": ["nondeterministic_output"],
        "unlink": ["request_policy:multi_shard", "response_policy:agg_sum"],
        "wait": ["request_policy:all_shards", "response_policy:agg_min"],
    ]
}

/// COMMAND INFO and COMMAND DOCS entries of one table row, in Redis 7's layout.
enum CommandDescription {
    /// Redis's ACL categories in the order it lists them.
    static let categoryOrder = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                                "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
                                "dangerous", "connection", "transaction", "scripting"]

    /// Flag names in Redis's order (may_replicate and the sentinel flags are hidden, as there).
    static let flagOrder: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
        (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.fast, "fast"), (.noAuth, "no_auth"),
        (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"),
    ]

    /// The table's categories plus those Redis derives from the flags (setImplicitACLCategories).
    static func categories(_ c: CommandSpec) -> [String] {
        var set = Set(c.categories.map { $0.hasPrefix("@") ? String($0.dropFirst()).lowercased() : $0.lowercased() })
        if c.flags.contains(.write) { set.insert("write") }
        if c.flags.contains(.readonly) && !set.contains("scripting") { set.insert("read") }
        if c.flags.contains(.admin) { set.insert("admin"); set.insert("dangerous") }
        if c.flags.contains(.pubsub) { set.insert("pubsub") }
        if c.flags.contains(.fast) { set.insert("fast") }
        if c.flags.contains(.blocking) { set.insert("blocking") }
        if !set.contains("fast") { set.insert("slow") }
        var out = categoryOrder.filter { set.contains($0) }
        out += set.subtracting(categoryOrder).sorted() // TagCache's own categories, if any
        return out
    }

    static func flags(_ c: CommandSpec, _ specs: [KeySpec]) -> [String] {
        var names = flagOrder.filter { c.flags.contains($0.0) }.map { $0.1 }
        let movable = specs.contains {
            if case .index = $0.begin, case .range = $0.find { return false }
            return true
        }
        if movable {
            let at = names.firstIndex(of: "no_multi").map { $0 + 1 } ?? names.count
            names.insert("movablekeys", at: at)
        }
        if c.flags.contains(.allowBusy) { names.append("allow_busy") }
        return names
    }

    private static let parsedRedisKeySpecs: [String: [KeySpec]] = KeySpec.redisKeySpecs.mapValues {
        $0.split(separator: ";").compactMap { KeySpec($0) }
    }

    /// Redis's key specs when it has the command; otherwise derived from first/last/step.
    static func keySpecs(_ c: CommandSpec) -> [KeySpec] {
        if let s = parsedRedisKeySpecs[c.fullName] { return s }
        if c.firstKey <= 0 { return [] }
        let flags = c.flags.contains(.readonly) ? ["RO", "access"] : c.flags.contains(.write) ? ["RW", "update"] : ["RW"]
        let last = c.lastKey < 0 ? c.lastKey : c.lastKey - c.firstKey
        return [KeySpec(flags: flags, begin: .index(c.firstKey), find: .range(lastKey: last, keyStep: max(c.keyStep, 1), limit: 0))]
    }

    /// The positions (in a request of argc arguments) of the keys, with their flags, as Redis's
    /// getKeysUsingKeySpecs finds them; nil when the request does not fit the specs.
    static func keys(_ specs: [KeySpec], argc: Int, _ arg: (Int) -> Bytes) -> [(Int, [String])]? {
        var out: [(Int, [String])] = []
        for s in specs {
            var first: Int
            switch s.begin {
            case let .index(i): first = i
            case let .keyword(word, from):
                let w = Array(word.utf8)
                var found = 0
                let indexes: [Int] = from >= 0 ? Array(stride(from: from, to: argc, by: 1))
                                               : Array(stride(from: argc + from, through: 1, by: -1))
                for i in indexes where i > 0 && i < argc {
                    let a = arg(i)
                    if a.count == w.count && a.lowercasedString == word.lowercased() && !w.isEmpty { found = i; break }
                }
                if found == 0 { continue }
                first = found + 1
            case .unknown: continue
            }
            if first >= argc { continue }
            var last: Int, step: Int
            switch s.find {
            case let .range(lastKey, keyStep, limit):
                step = keyStep
                if lastKey >= 0 {
                    last = first + lastKey
                } else if limit <= 1 {
                    last = argc + lastKey
                } else {
                    last = first + ((argc - first) / limit + lastKey)
                }
            case let .keyNum(index, firstKey, keyStep):
                guard first + index < argc, let n = arg(first + index).redisInteger, n >= 0 else { return nil }
                step = keyStep
                first += firstKey
                last = first + (n - 1) * keyStep
            case .unknown: continue
            }
            if last < first { continue }
            if last >= argc { return nil }
            for i in stride(from: first, through: last, by: max(step, 1)) { out.append((i, s.flags)) }
        }
        return out
    }

    /// [name, arity, [flags], first, last, step, [@categories], [tips], [key specs], [subcommands]]
    static func info(_ c: CommandSpec, _ r: ReplyWriter) {
        let specs = keySpecs(c)
        r.array(10)
        r.bulk(string: c.fullName)
        r.integer(c.arity)
        let flags = flags(c, specs)
        r.set(flags.count)
        for f in flags { r.simple(string: f) }
        r.integer(c.firstKey)
        r.integer(c.lastKey)
        r.integer(c.keyStep)
        let cats = categories(c)
        r.set(cats.count)
        for cat in cats { r.simple(string: "@" + cat) }
        let tips = CommandTips.redisTips[c.fullName] ?? []
        r.set(tips.count)
        for t in tips { r.bulk(string: t) }
        r.set(specs.count)
        for s in specs { keySpec(s, r) }
        // Redis answers an empty set when there are no subcommands, an array otherwise.
        if c.subcommands.isEmpty { r.set(0) } else { r.array(c.subcommands.count) }
        for s in c.subcommands { info(s, r) }
    }

    static func keySpec(_ s: KeySpec, _ r: ReplyWriter) {
        r.map(s.notes == nil ? 3 : 4)
        if let n = s.notes { r.bulk(string: "notes"); r.bulk(string: n) }
        r.bulk(string: "flags")
        r.set(s.flags.count)
        for f in s.flags { r.simple(string: f) }
        r.bulk(string: "begin_search")
        r.map(2)
        r.bulk(string: "type")
        switch s.begin {
        case let .index(i):
            r.bulk(string: "index"); r.bulk(string: "spec"); r.map(1)
            r.bulk(string: "index"); r.integer(i)
        case let .keyword(word, from):
            r.bulk(string: "keyword"); r.bulk(string: "spec"); r.map(2)
            r.bulk(string: "keyword"); r.bulk(string: word)
            r.bulk(string: "startfrom"); r.integer(from)
        case .unknown:
            r.bulk(string: "unknown"); r.bulk(string: "spec"); r.map(0)
        }
        r.bulk(string: "find_keys")
        r.map(2)
        r.bulk(string: "type")
        switch s.find {
        case let .range(last, step, limit):
            r.bulk(string: "range"); r.bulk(string: "spec"); r.map(3)
            r.bulk(string: "lastkey"); r.integer(last)
            r.bulk(string: "keystep"); r.integer(step)
            r.bulk(string: "limit"); r.integer(limit)
        case let .keyNum(index, first, step):
            r.bulk(string: "keynum"); r.bulk(string: "spec"); r.map(3)
            r.bulk(string: "keynumidx"); r.integer(index)
            r.bulk(string: "firstkey"); r.integer(first)
            r.bulk(string: "keystep"); r.integer(step)
        case .unknown:
            r.bulk(string: "unknown"); r.bulk(string: "spec"); r.map(0)
        }
    }

    /// summary, since, group, complexity and, for containers, the subcommands' docs.
    static func docs(_ c: CommandSpec, _ r: ReplyWriter) {
        r.map(c.subcommands.isEmpty ? 4 : 5)
        r.bulk(string: "summary"); r.bulk(string: c.summary)
        r.bulk(string: "since"); r.bulk(string: c.since)
        r.bulk(string: "group"); r.bulk(string: c.group)
        r.bulk(string: "complexity"); r.bulk(string: c.complexity)
        if !c.subcommands.isEmpty {
            r.bulk(string: "subcommands")
            r.map(c.subcommands.count)
            for s in c.subcommands {
                r.bulk(string: s.fullName)
                docs(s, r)
            }
        }
    }
}
