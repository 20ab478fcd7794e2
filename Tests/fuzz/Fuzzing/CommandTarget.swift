import CaseFiles
import Commands
import RESP
import Server
import Store

/// The command fuzz target: programs (CommandProgram) sent by three connections to one server,
/// through the Dispatcher, without sockets. The server is a TagCacheServer that is never
/// started, so CONFIG, INFO, CLIENT and SHUTDOWN run TagCache's own code; the target plays the
/// part of the event loop and the connections (blocking, closing, the cron's work).
///
/// Checked for every command, besides ASan's checks: the reply is exactly one well-formed RESP
/// value (none while its client is blocked, at most one from a closing client), and so is what
/// a served blocked client receives. Each input starts from an empty keyspace on a server in its
/// starting configuration (one that ran CONFIG SET, DEBUG or SHUTDOWN is replaced) and an empty
/// slow log: what an input allocates is mostly freed by its end, which spares libFuzzer a
/// LeakSanitizer pass after most inputs.
public final class CommandTarget {
    /// One connection: its client state, context, and the replies delivered to it while blocked.
    final class Connection: @unchecked Sendable { // used by the fuzzing thread only
        let context: CommandContext
        var delivered: [[UInt8]] = []
        var state: ClientState { context.client }
        init(_ context: CommandContext) { self.context = context }
    }

    /// The longest string APPEND and SETRANGE may build: the store stays small (1 MB).
    static let maxStringLength = 1 << 20

    let table = CommandTable.standard()
    let counters: LoopCounters
    var server: TagCacheServer
    var connections: [Connection] = []
    var nextClientId = 1
    /// What changes the server beyond its keyspace: a server that ran them is replaced.
    let stateChanging: [Int]
    /// CONFIG SET, whose settings the loop's counters take (as TagCacheServer.applyConfig does).
    let configSet: Int

    public init() {
        counters = LoopCounters(commandSlots: table.allSpecs.count)
        server = Self.makeServer()
        let id = { [table] (name: String, sub: String?) -> Int in
            guard let c = table.lookup(name: name) else { fatalError("no command \(name)") }
            guard let s = sub else { return c.id }
            guard let sc = c.subcommands.first(where: { $0.name == s }) else { fatalError("no command \(name) \(s)") }
            return sc.id
        }
        configSet = id("config", "set")
        stateChanging = [configSet, id("debug", nil), id("shutdown", nil)]
        applyLoopSettings()
    }

    static func makeServer() -> TagCacheServer {
        let config = Config()
        for (name, value) in [("shards", "4"), ("loglevel", "nothing"), ("enable-debug-command", "yes"),
                              ("busy-reply-threshold", "100")] {
            _ = config.set(name, value, atStartup: true)
        }
        return TagCacheServer(config: config)
    }

    func calls(_ ids: [Int]) -> Int { ids.reduce(0) { $0 + counters.command($1).0 } }

    /// What the server hands each loop's counters when its configuration changes.
    func applyLoopSettings() {
        server.configure(counters)
    }

    func connect() -> Connection {
        let id = nextClientId
        let client = ClientState(id: id, authenticated: server.requirePass == nil, now: server.keyspace.clock.nowMs(),
                                 address: "127.0.0.1:\(40000 + id % 20000)")
        nextClientId += 1
        let context = CommandContext(keyspace: server.keyspace, reply: ReplyWriter(), client: client, table: table,
                                     server: server, counters: counters)
        context.maxStringLength = Self.maxStringLength
        // A script past busy-reply-threshold is stopped at its next hook: the target has no
        // other clients to serve meanwhile, and an endless script would hang the input.
        context.serveWhileBusy = { [server] in server.scripts.stopForShutdown() }
        let c = Connection(context)
        client.deliverWhenUnblocked = { [weak c] bytes in c?.delivered.append(bytes) }
        return c
    }

    public func run(_ data: UnsafeRawBufferPointer) {
        let changesBefore = calls(stateChanging)
        var configSets = calls([configSet])
        connections = (0..<3).map { _ in connect() }
        var program = CommandProgram(data, specs: table.allSpecs)
        while let step = program.next() {
            switch step {
            case .tick:
                tick()
            case let .command(i, args):
                execute(args, on: i)
                let n = calls([configSet])
                if n != configSets {
                    configSets = n
                    applyLoopSettings()
                }
            }
        }
        for c in connections { close(c) }
        connections = []
        server.keyspace.flushAll()
        counters.slowlog.reset()
        if calls(stateChanging) != changesBefore {
            server = Self.makeServer()
            applyLoopSettings()
        }
    }

    func execute(_ args: [[UInt8]], on i: Int) {
        let c = connections[i]
        let ctx = c.context
        // A blocked client sends nothing until its wait ends: here, by its timeout.
        if let b = c.state.blocked {
            if BlockingCommands.cancel(b, keyspace: server.keyspace) { check(b.timeoutReply, resp3: b.resp3, "timeout") }
            c.state.blocked = nil
        }
        let resp3Before = ctx.reply.resp3
        ctx.now = server.keyspace.clock.nowMs()
        OwnedArguments(values: args).withArguments { Dispatcher.execute(ctx, $0) }
        let out = ctx.reply.out
        switch ReplyCheck.count(out.readableBytes, resp3: resp3Before || ctx.reply.resp3) {
        case let .failure(fault):
            fatalError("fuzz invariant broken: malformed reply to \(describe(args)): \(fault): \(escape(out.readableArray()))")
        case let .success(n):
            let allowed = c.state.blocked != nil ? 0...0 : c.state.closeAfterReply ? 0...1 : 1...1
            invariant(allowed.contains(n), "\(n) replies to \(describe(args)): \(escape(out.readableArray()))")
        }
        out.clear(shrinkTo: 1 << 20)
        for other in connections where !other.delivered.isEmpty {
            for d in other.delivered { check(d, resp3: other.context.reply.resp3, "a served blocked client") }
            other.delivered.removeAll()
            other.state.blocked = nil
        }
        for (k, other) in connections.enumerated() where other.state.closeAfterReply || other.state.killed {
            close(other)
            connections[k] = connect()
        }
    }

    /// The cron's work: active expiry, eviction, and the timeouts of blocked clients.
    func tick() {
        let ks = server.keyspace
        _ = ks.activeExpireCycle()
        _ = ks.evictIfNeeded(budgetUs: 1000)
        let now = ks.clock.nowMs()
        for c in connections {
            guard let b = c.state.blocked, b.deadline > 0, b.deadline <= now else { continue }
            if BlockingCommands.cancel(b, keyspace: ks) { check(b.timeoutReply, resp3: b.resp3, "timeout") }
            c.state.blocked = nil
        }
    }

    /// What Connection.close does for the client's state.
    func close(_ c: Connection) {
        TransactionCommands.unwatchAll(c.context)
        if let b = c.state.blocked {
            c.state.blocked = nil
            _ = BlockingCommands.cancel(b, keyspace: server.keyspace)
        }
    }

    func check(_ reply: [UInt8], resp3: Bool, _ what: String) {
        let n = reply.withUnsafeBufferPointer { ReplyCheck.count($0, resp3: resp3) }
        guard case .success(1) = n else { fatalError("fuzz invariant broken: \(what) got \(n): \(escape(reply))") }
    }

    func describe(_ args: [[UInt8]]) -> String { args.prefix(8).map { escape($0, limit: 40) }.joined(separator: " ") }

    /// libFuzzer's custom mutation of an input (CommandMutator).
    public func mutate(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int, seed: UInt32) -> Int {
        CommandMutator.mutate(data, size: size, maxSize: maxSize, seed: seed, specs: table.allSpecs)
    }

    // MARK: seeds and reports

    /// An input's program, one step a line: `2> SET "a" "1"` (connection 2), `tick`.
    public func describe(_ data: UnsafeRawBufferPointer) -> String {
        var program = CommandProgram(data, specs: table.allSpecs)
        var lines: [String] = []
        while let step = program.next() {
            switch step {
            case .tick: lines.append("tick")
            case let .command(i, args): lines.append("\(i + 1)> " + args.map { escape($0, limit: 200) }.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Seeds from the differential cases: every case with up to seven cases before it (the keys
    /// it reads were mostly made by those).
    public func seeds(_ cases: [CaseLine]) -> [[UInt8]] {
        cases.indices.map { CommandProgram.encode(cases[max(0, $0 - 7)...$0], table: table) }
    }
}

/// Bytes as a quoted string with escapes, for messages.
func escape(_ b: [UInt8], limit: Int = 300) -> String {
    var s = "\""
    for c in b.prefix(limit) {
        switch c {
        case 13: s += "\\r"
        case 10: s += "\\n"
        case 34: s += "\\\""
        case 92: s += "\\\\"
        case 32...126: s.append(Character(Unicode.Scalar(c)))
        default: s += "\\x" + String(c, radix: 16).leftPadded(2)
        }
    }
    return s + (b.count > limit ? "\"...(\(b.count) bytes)" : "\"")
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
