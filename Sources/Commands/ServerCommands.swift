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
        // Names may repeat: a request of a million names would ask for gigabytes.
        guard let budget = CountedReply(ctx, elements: args.count - 2, bytesEach: 3) else { return }
        ctx.reply.array(args.count - 2)
        for i in 2..<args.count {
            if let c = find(ctx, args[i]) { CommandDescription.info(c, ctx.reply) } else { ctx.reply.null() }
            if budget.exceeded() { return }
        }
    }

    static func commandDocs(_ ctx: CommandContext, _ args: Arguments) {
        var specs: [CommandSpec] = []
        if args.count == 2 {
            specs = ctx.table.commands
        } else {
            for i in 2..<args.count { if let c = find(ctx, args[i]) { specs.append(c) } }
        }
        guard let budget = CountedReply(ctx, elements: specs.count, bytesEach: 3) else { return }
        ctx.reply.map(specs.count)
        for c in specs {
            ctx.reply.bulk(string: c.fullName)
            CommandDescription.docs(c, ctx.reply)
            if budget.exceeded() { return }
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
