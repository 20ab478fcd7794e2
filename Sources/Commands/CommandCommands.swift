import RESP
import Store

/// COMMAND and its subcommands: every reply comes from the table's descriptions, laid out as
/// Redis 7.0's addReplyCommandInfo / addReplyCommandDocs lay them out.
public enum CommandCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.command, command, subcommands: [
            CommandSpec(.commandCount, count),
            CommandSpec(.commandInfo, info),
            CommandSpec(.commandDocs, docs),
            CommandSpec(.commandList, list),
            CommandSpec(.commandGetkeys, getKeys),
            CommandSpec(.commandGetkeysandflags, getKeys),
            CommandSpec(.commandHelp, help),
        ]),
    ]

    static func command(_ ctx: CommandContext, _ args: Arguments) {
        let cmds = ctx.table.commands
        ctx.reply.array(cmds.count)
        for c in cmds { info(c, ctx.reply) }
    }

    static func count(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(ctx.table.commands.count) }

    /// A command by name as COMMAND INFO/DOCS take it: "get", "client|list" (any case).
    static func find(_ ctx: CommandContext, _ name: Bytes) -> CommandSpec? {
        let n = name.lowercasedString
        let parts = n.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        guard let top = ctx.table.lookup(name: String(parts[0])) else { return nil }
        if parts.count == 1 { return top }
        return top.subcommands.first { $0.name == parts[1] }
    }

    static func info(_ ctx: CommandContext, _ args: Arguments) {
        if args.count == 2 { command(ctx, args); return }
        // Names may repeat: a request of a million names would ask for gigabytes.
        guard let budget = CountedReply(ctx, elements: args.count - 2, bytesEach: 3) else { return }
        ctx.reply.array(args.count - 2)
        for i in 2..<args.count {
            if let c = find(ctx, args[i]) { info(c, ctx.reply) } else { ctx.reply.null() }
            if budget.exceeded() { return }
        }
    }

    static func docs(_ ctx: CommandContext, _ args: Arguments) {
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
            docs(c, ctx.reply)
            if budget.exceeded() { return }
        }
    }

    static func list(_ ctx: CommandContext, _ args: Arguments) {
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
                // An unknown category matches nothing, as in Redis.
                let cat = ACLCategories(name: value.lowercasedString)
                filter = { cat.map($0.described.categories.contains) ?? false }
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

    /// COMMAND GETKEYS and GETKEYSANDFLAGS, as Redis's getKeysSubcommandImpl.
    static func getKeys(_ ctx: CommandContext, _ args: Arguments) {
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
        let keySpecs = spec.described.keySpecs
        if keySpecs.isEmpty {
            ctx.reply.error("ERR The command has no key arguments")
            return
        }
        let argc = args.count - 2
        if !spec.arityAccepts(argc) {
            ctx.reply.error("ERR Invalid number of arguments specified for command")
            return
        }
        guard let keys = KeySpec.keys(keySpecs, argc: argc, { args[$0 + 2] }), !keys.isEmpty else {
            if spec.flags.contains(.noMandatoryKeys) { ctx.reply.array(0) } else {
                ctx.reply.error("ERR Invalid arguments specified for command")
            }
            return
        }
        ctx.reply.array(keys.count)
        for (index, specFlags) in keys {
            guard withFlags else {
                ctx.reply.bulk(args[index + 2])
                continue
            }
            var flags = specFlags
            // SET's flags depend on its arguments (Redis's setGetKeys): GET makes it read too.
            if spec.name == "set" && flags.contains(.variableFlags) {
                let get = (3..<argc).contains { args[$0 + 2].equalsIgnoringCase("GET") }
                flags = get ? [.rw, .access, .update] : [.ow, .update]
            }
            ctx.reply.array(2)
            ctx.reply.bulk(args[index + 2])
            ctx.reply.simpleSet(flags.names(KeySpec.Flags.names))
        }
    }

    static func help(_ ctx: CommandContext, _ args: Arguments) {
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

    // MARK: replies

    /// [name, arity, [flags], first, last, step, [@categories], [tips], [key specs], [subcommands]]
    static func info(_ c: CommandSpec, _ r: ReplyWriter) {
        let d = c.described
        let range = d.legacyRange
        r.array(10)
        r.bulk(string: d.name)
        r.integer(d.arity)
        r.simpleSet(c.flags.names(CommandFlags.names))
        r.integer(range.first)
        r.integer(range.last)
        r.integer(range.step)
        r.simpleSet(d.categories.names(ACLCategories.names).map { "@" + $0 })
        r.set(d.tips.count)
        for t in d.tips { r.bulk(string: t) }
        r.set(d.keySpecs.count)
        for s in d.keySpecs { s.write(r) }
        // Redis answers an empty set when there are no subcommands, an array otherwise.
        if c.subcommands.isEmpty { r.set(0) } else { r.array(c.subcommands.count) }
        for s in c.subcommands { info(s, r) }
    }

    /// COMMAND DOCS' map of one command: only the fields it has, in Redis's order.
    static func docs(_ c: CommandSpec, _ r: ReplyWriter) {
        let d = c.described
        let fields: [Bool] = [d.summary != nil, d.since != nil, true, d.complexity != nil, !d.docFlags.isEmpty,
                              d.deprecatedSince != nil, d.replacedBy != nil, !d.history.isEmpty,
                              !d.arguments.isEmpty, !c.subcommands.isEmpty]
        r.map(fields.filter { $0 }.count)
        optional("summary", d.summary, r)
        optional("since", d.since, r)
        r.bulk(string: "group"); r.bulk(string: d.group.rawValue)
        optional("complexity", d.complexity, r)
        if !d.docFlags.isEmpty { r.bulk(string: "doc_flags"); r.simpleSet(d.docFlags.names(DocFlags.names)) }
        optional("deprecated_since", d.deprecatedSince, r)
        optional("replaced_by", d.replacedBy, r)
        if !d.history.isEmpty {
            r.bulk(string: "history")
            r.set(d.history.count)
            for (version, change) in d.history {
                r.array(2); r.bulk(string: version); r.bulk(string: change)
            }
        }
        if !d.arguments.isEmpty { r.bulk(string: "arguments"); arguments(d.arguments, r) }
        if !c.subcommands.isEmpty {
            r.bulk(string: "subcommands")
            r.map(c.subcommands.count)
            for s in c.subcommands {
                r.bulk(string: s.fullName)
                docs(s, r)
            }
        }
    }

    static func arguments(_ args: [CommandArgument], _ r: ReplyWriter) {
        r.array(args.count)
        for a in args {
            let nested = a.kind == .oneof || a.kind == .block
            let fields: [Bool] = [a.keySpec != nil, a.token != nil, a.summary != nil, a.since != nil,
                                  a.deprecatedSince != nil, !a.flags.isEmpty, nested]
            r.map(2 + fields.filter { $0 }.count)
            r.bulk(string: "name"); r.bulk(string: a.name)
            r.bulk(string: "type"); r.bulk(string: a.kind.rawValue)
            if let k = a.keySpec { r.bulk(string: "key_spec_index"); r.integer(k) }
            optional("token", a.token, r)
            optional("summary", a.summary, r)
            optional("since", a.since, r)
            optional("deprecated_since", a.deprecatedSince, r)
            if !a.flags.isEmpty { r.bulk(string: "flags"); r.simpleSet(a.flags.names(CommandArgument.Flags.names)) }
            if nested { r.bulk(string: "arguments"); arguments(a.arguments, r) }
        }
    }

    private static func optional(_ field: String, _ value: String?, _ r: ReplyWriter) {
        guard let value else { return }
        r.bulk(string: field)
        r.bulk(string: value)
    }
}
