import RESP
import Store

/// PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, CLIENT, READONLY, READWRITE: a client's own
/// connection, answered as Redis 7 answers them.
public enum ConnectionCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.ping, ping),
        CommandSpec(.echo, echo),
        CommandSpec(.quit, quit),
        CommandSpec(.reset, reset),
        CommandSpec(.select, select),
        CommandSpec(.auth, auth),
        CommandSpec(.hello, hello),
        CommandSpec(.client, subcommands: [
            CommandSpec(.clientId, clientId),
            CommandSpec(.clientInfo, clientInfo),
            CommandSpec(.clientList, clientList),
            CommandSpec(.clientKill, clientKill),
            CommandSpec(.clientGetname, clientGetName),
            CommandSpec(.clientSetname, clientSetName),
            CommandSpec(.clientSetinfo, clientSetInfo),
            CommandSpec(.clientNoEvict, clientNoEvict),
            CommandSpec(.clientNoTouch, clientNoTouch),
            CommandSpec(.clientGetredir, clientGetRedir),
            CommandSpec(.clientTrackinginfo, clientTrackingInfo),
            CommandSpec(.clientHelp, clientHelp),
        ]),
        CommandSpec(.readonly, clusterOnly),
        CommandSpec(.readwrite, clusterOnly),
    ]

    // MARK: PING, ECHO, QUIT, SELECT, READONLY

    static func ping(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 2 { ctx.wrongArity(); return }
        if args.count == 2 { ctx.reply.bulk(args[1]) } else { ctx.reply.simple("PONG") }
    }

    static func echo(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.bulk(args[1]) }

    static func quit(_ ctx: CommandContext, _ args: Arguments) {
        ctx.reply.ok()
        ctx.client.closeAfterReply = true
    }

    static func select(_ ctx: CommandContext, _ args: Arguments) {
        guard let db = args[1].redisInteger else {
            ctx.notInteger()
            return
        }
        // Redis reads the index as a C int (getIntFromObjectOrReply).
        if db < Int(Int32.min) || db > Int(Int32.max) {
            ctx.reply.error("ERR value is out of range, value must between -2147483648 and 2147483647")
            return
        }
        if db < 0 || db >= ctx.keyspace.databases {
            ctx.reply.error("ERR DB index is out of range")
            return
        }
        ctx.client.db = db
        ctx.reply.ok()
    }

    static func clusterOnly(_ ctx: CommandContext, _ args: Arguments) {
        ctx.reply.error("ERR This instance has cluster support disabled")
    }

    /// The `client` / `config` / `command` containers: the dispatcher resolves their subcommands,
    /// so this only runs for a bare name, which arity already rejects.
    // MARK: RESET

    static func reset(_ ctx: CommandContext, _ args: Arguments) {
        let c = ctx.client
        c.name = []
        TransactionCommands.discardTransaction(ctx)
        ctx.server.setClientModes(c, noEvict: false, noTouch: false)
        c.db = 0
        c.authenticated = ctx.server.requirePass == nil
        ctx.reply.protocolVersion = 2
        ctx.reply.simple("RESET")
    }

    // MARK: AUTH, HELLO

    static func auth(_ ctx: CommandContext, _ args: Arguments) {
        if args.count > 3 { ctx.syntaxError(); return }
        let ok: Bool
        if args.count == 2 {
            // The password-only form needs a password to check against, as in Redis 6+.
            if ctx.server.requirePass == nil {
                ctx.reply.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
                return
            }
            ok = credentialsMatch(ctx, user: nil, password: args[1])
        } else {
            ok = credentialsMatch(ctx, user: args[1], password: args[2])
        }
        if ok {
            ctx.client.authenticated = true
            ctx.reply.ok()
        } else {
            ctx.reply.error("WRONGPASS invalid username-password pair or user is disabled.")
        }
    }

    /// The only user is `default`, whose password is requirepass (any password when none is set).
    static func credentialsMatch(_ ctx: CommandContext, user: Bytes?, password: Bytes) -> Bool {
        if let u = user, u.string != "default" { return false }
        guard let pass = ctx.server.requirePass else { return true }
        // Compare every byte whatever the first difference, so timing tells nothing.
        var diff = pass.count ^ password.count
        for i in 0..<password.count { diff |= Int(password[i] ^ pass[i % max(pass.count, 1)]) }
        return diff == 0
    }

    static func hello(_ ctx: CommandContext, _ args: Arguments) {
        var next = 1
        var version = 0
        if args.count >= 2 {
            guard let v = args[1].redisInteger else {
                ctx.reply.error("ERR Protocol version is not an integer or out of range")
                return
            }
            next = 2
            if v < 2 || v > 3 {
                ctx.reply.error("NOPROTO unsupported protocol version")
                return
            }
            version = v
        }
        var credentials: (Bytes, Bytes)?
        var name: Bytes?
        var j = next
        while j < args.count {
            let more = args.count - 1 - j
            let opt = args[j]
            if opt.equalsIgnoringCase("AUTH") && more >= 2 {
                credentials = (args[j + 1], args[j + 2])
                j += 3
            } else if opt.equalsIgnoringCase("SETNAME") && more >= 1 {
                name = args[j + 1]
                j += 2
            } else {
                ctx.reply.error("ERR Syntax error in HELLO option '\(opt.string)'")
                return
            }
        }
        if let (user, password) = credentials {
            guard credentialsMatch(ctx, user: user, password: password) else {
                ctx.reply.error("WRONGPASS invalid username-password pair or user is disabled.")
                return
            }
            ctx.client.authenticated = true
        }
        if !ctx.client.authenticated {
            ctx.reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let n = name, !setName(ctx, n) { return }
        if version != 0 { ctx.reply.protocolVersion = version }
        let r = ctx.reply
        let s = ctx.server
        r.map(8)
        r.bulk(string: "server"); r.bulk(string: "redis")
        r.bulk(string: "version"); r.bulk(string: s.redisVersion)
        r.bulk(string: "proto"); r.integer(r.protocolVersion)
        r.bulk(string: "id"); r.integer(ctx.client.id)
        r.bulk(string: "mode"); r.bulk(string: "standalone")
        r.bulk(string: "role"); r.bulk(string: "master")
        r.bulk(string: "modules"); r.array(0)
        // TagCache's own addition, after Redis's fields so clients reading them see no change.
        r.bulk(string: "tagcache_version"); r.bulk(string: s.tagcacheVersion)
    }

    // MARK: CLIENT

    static func clientId(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(ctx.client.id) }

    static func clientInfo(_ ctx: CommandContext, _ args: Arguments) {
        ctx.reply.verbatim(ctx.server.clientInfo(ctx.client))
    }

    /// The client types Redis knows (getClientTypeByName), "slave" being "replica".
    static func clientType(_ b: Bytes) -> String? {
        switch b.lowercasedString {
        case "normal": return "normal"
        case "slave", "replica": return "replica"
        case "pubsub": return "pubsub"
        case "master": return "master"
        default: return nil
        }
    }

    static func clientList(_ ctx: CommandContext, _ args: Arguments) {
        var type: String?
        var ids: [Int]?
        if args.count == 4 && args[2].equalsIgnoringCase("TYPE") {
            guard let t = clientType(args[3]) else {
                ctx.reply.error("ERR Unknown client type '\(args[3].string)'")
                return
            }
            type = t
        } else if args.count > 3 && args[2].equalsIgnoringCase("ID") {
            var list: [Int] = []
            for i in 3..<args.count {
                guard let id = args[i].redisInteger else {
                    ctx.reply.error("ERR Invalid client ID")
                    return
                }
                list.append(id)
            }
            ids = list
        } else if args.count != 2 {
            ctx.syntaxError()
            return
        }
        ctx.reply.verbatim(ctx.server.clientList(ids: ids, type: type))
    }

    static func clientKill(_ ctx: CommandContext, _ args: Arguments) {
        var filter = ClientKillFilter()
        if args.count == 3 {
            // Old form: CLIENT KILL addr:port, which may kill the caller too.
            filter.address = args[2].string
            filter.skipMe = false
        } else {
            var i = 2
            while i < args.count {
                guard i + 1 < args.count else { ctx.syntaxError(); return }
                let opt = args[i], value = args[i + 1]
                if opt.equalsIgnoringCase("ID") {
                    guard let id = value.redisInteger, id >= 1 else {
                        ctx.reply.error("ERR client-id should be greater than 0")
                        return
                    }
                    filter.id = id
                } else if opt.equalsIgnoringCase("MAXAGE") {
                    guard let age = value.redisInteger else {
                        ctx.reply.error("ERR maxage is not an integer or out of range")
                        return
                    }
                    if age <= 0 {
                        ctx.reply.error("ERR maxage should be greater than 0")
                        return
                    }
                    filter.maxAge = age
                } else if opt.equalsIgnoringCase("TYPE") {
                    guard let t = clientType(value) else {
                        ctx.reply.error("ERR Unknown client type '\(value.string)'")
                        return
                    }
                    filter.type = t
                } else if opt.equalsIgnoringCase("ADDR") {
                    filter.address = value.string
                } else if opt.equalsIgnoringCase("LADDR") {
                    filter.localAddress = value.string
                } else if opt.equalsIgnoringCase("USER") {
                    guard value.string == "default" else {
                        ctx.reply.error("ERR No such user '\(value.string)'")
                        return
                    }
                    filter.user = "default"
                } else if opt.equalsIgnoringCase("SKIPME") {
                    if value.equalsIgnoringCase("yes") {
                        filter.skipMe = true
                    } else if value.equalsIgnoringCase("no") {
                        filter.skipMe = false
                    } else {
                        ctx.syntaxError()
                        return
                    }
                } else {
                    ctx.syntaxError()
                    return
                }
                i += 2
            }
        }
        let killed = ctx.server.killClients(filter, caller: ctx.client)
        if args.count == 3 {
            if killed == 0 { ctx.reply.error("ERR No such client") } else { ctx.reply.ok() }
        } else {
            ctx.reply.integer(killed)
        }
    }

    static func clientGetName(_ ctx: CommandContext, _ args: Arguments) {
        let n = ctx.client.name
        if n.isEmpty { ctx.reply.null() } else { ctx.reply.bulk(n) }
    }

    static func clientSetName(_ ctx: CommandContext, _ args: Arguments) {
        if setName(ctx, args[2]) { ctx.reply.ok() }
    }

    /// CLIENT LIST stays splittable on spaces: names and library fields take '!'...'~' only.
    static func isPrintableWord(_ b: Bytes) -> Bool {
        for c in b where c < 33 || c > 126 { return false }
        return true
    }

    /// Sets (or, when empty, clears) the client's name; replies with the error when invalid.
    static func setName(_ ctx: CommandContext, _ name: Bytes) -> Bool {
        guard isPrintableWord(name) else {
            ctx.reply.error("ERR Client names cannot contain spaces, newlines or special characters.")
            return false
        }
        let c = ctx.client
        let value = name.array
        c.name = value
        return true
    }

    static func clientSetInfo(_ ctx: CommandContext, _ args: Arguments) {
        let attr = args[2], value = args[3]
        let isName = attr.equalsIgnoringCase("lib-name")
        guard isName || attr.equalsIgnoringCase("lib-ver") else {
            ctx.reply.error("ERR Unrecognized option '\(attr.string)'")
            return
        }
        guard isPrintableWord(value) else {
            ctx.reply.error("ERR \(attr.string) cannot contain spaces, newlines or special characters.")
            return
        }
        let c = ctx.client
        let v = value.array
        if isName { c.libName = v } else { c.libVersion = v }
        ctx.reply.ok()
    }

    /// ON / OFF of CLIENT NO-EVICT and NO-TOUCH, or nil after a syntax error reply.
    static func onOff(_ ctx: CommandContext, _ b: Bytes) -> Bool? {
        if b.equalsIgnoringCase("on") { return true }
        if b.equalsIgnoringCase("off") { return false }
        ctx.syntaxError()
        return nil
    }

    static func clientNoEvict(_ ctx: CommandContext, _ args: Arguments) {
        guard let on = onOff(ctx, args[2]) else { return }
        ctx.server.setClientModes(ctx.client, noEvict: on, noTouch: nil)
        ctx.reply.ok()
    }

    static func clientNoTouch(_ ctx: CommandContext, _ args: Arguments) {
        guard let on = onOff(ctx, args[2]) else { return }
        ctx.server.setClientModes(ctx.client, noEvict: nil, noTouch: on)
        ctx.reply.ok()
    }

    /// No client-side caching here: tracking is always off.
    static func clientGetRedir(_ ctx: CommandContext, _ args: Arguments) { ctx.reply.integer(-1) }

    static func clientTrackingInfo(_ ctx: CommandContext, _ args: Arguments) {
        let r = ctx.reply
        r.map(3)
        r.bulk(string: "flags"); r.set(1); r.bulk(string: "off")
        r.bulk(string: "redirect"); r.integer(-1)
        r.bulk(string: "prefixes"); r.array(0)
    }

    static let clientHelpLines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Prints this help.",
    ]

    static func clientHelp(_ ctx: CommandContext, _ args: Arguments) { help(ctx, clientHelpLines) }

    /// A HELP reply: one status line per entry, as Redis's addReplyHelp.
    static func help(_ ctx: CommandContext, _ lines: [String]) {
        ctx.reply.array(lines.count)
        for l in lines { ctx.reply.simple(string: l) }
    }
}
