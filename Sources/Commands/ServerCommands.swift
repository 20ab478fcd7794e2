import RESP
import Store

/// INFO, COMMAND, CONFIG, TIME, SHUTDOWN, LASTSAVE, SAVE, BGSAVE: the server as a whole. COMMAND's
/// replies are generated from the command table, as in Redis.
public enum ServerCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.info, info),
        CommandSpec(.config, subcommands: [
            CommandSpec(.configGet, configGet),
            CommandSpec(.configSet, configSet),
            CommandSpec(.configResetstat, configResetStat),
            CommandSpec(.configRewrite, configRewrite),
            CommandSpec(.configHelp, configHelp),
        ]),
        CommandSpec(.time, time),
        CommandSpec(.shutdown, shutdown),
        CommandSpec(.lastsave, lastsave),
        CommandSpec(.save, save),
        CommandSpec(.bgsave, save),
    ]

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
        if ctx.keyspace.busyScript.load(ordering: .relaxed) != 0 {
            // A busy script: only SHUTDOWN NOSAVE goes through, and it stops the script.
            if !noSave {
                ctx.reply.error(Dispatcher.busyError(ctx))
                return
            }
            ctx.server.scripts.stopForShutdown()
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

}
