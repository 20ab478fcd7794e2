import Commands
import RESP
import Store
import XCTest

/// A server stand-in for running handlers without sockets.
final class StubServer: ServerControl, @unchecked Sendable {
    let scripts = ScriptEngine(redisVersion: "7.0.15")
    func scriptLog(level: Int, _ message: String) {}
    var requirePass: [UInt8]?
    var redisVersion: String { "7.2.4" }
    var tagcacheVersion: String { "test" }
    func info(sections: [String], client: ClientState) -> String { "# Server\r\n" }
    func clientList(ids: [Int]?, type: String?) -> String { "" }
    func clientInfo(_ client: ClientState) -> String { "" }
    func killClients(_ filter: ClientKillFilter, caller: ClientState) -> Int { 0 }
    func setClientModes(_ client: ClientState, noEvict: Bool?, noTouch: Bool?) {}
    func configGet(_ patterns: [[UInt8]]) -> [(String, String)] { [] }
    func configSet(_ pairs: [([UInt8], [UInt8])]) -> String? { nil }
    func isSecretDirective(_ name: String) -> Bool { name.lowercased() == "requirepass" }
    func resetStats() {}
    func configRewrite() -> String? { nil }
    var lastSaveTime: Int { 0 }
    func shutdown(client: ClientState) {}
    var debugCommandMode: String { "yes" }
}

final class DispatcherTests: XCTestCase {
    let table = CommandTable.standard()
    let server = StubServer()
    lazy var keyspace = Keyspace(shards: 4)

    /// Owners of what a context references unretained (as a connection and its loop are).
    var owners: [AnyObject] = []

    func context(authenticated: Bool = true) -> CommandContext {
        let reply = ReplyWriter(), client = ClientState(id: 1, authenticated: authenticated, now: 0)
        let counters = LoopCounters(commandSlots: table.allSpecs.count)
        owners += [reply, client, counters]
        return CommandContext(keyspace: keyspace, reply: reply, client: client, table: table, server: server,
                              counters: counters)
    }

    /// Runs one command given as words and returns the reply text.
    func run(_ ctx: CommandContext, _ words: String...) -> String {
        let owned = OwnedArguments(values: words.map { Array($0.utf8) })
        ctx.now = keyspace.clock.nowMs()
        let before = ctx.reply.out.readableCount
        owned.withArguments { Dispatcher.execute(ctx, $0) }
        let all = ctx.reply.out.readableArray()
        return String(decoding: all[before...], as: UTF8.self)
    }

    func testLookupIsCaseInsensitiveAndTableHasNoDuplicates() {
        XCTAssertEqual(table.lookup(name: "GeT")?.name, "get")
        XCTAssertNil(table.lookup(name: "nosuch"))
        let names = table.commands.map(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        for c in table.commands { XCTAssertTrue(table.lookup(name: c.name.uppercased()) === c) }
    }

    func testUnknownCommandAndArityErrors() {
        let ctx = context()
        XCTAssertEqual(run(ctx, "nosuch", "a", "b"), "-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n")
        XCTAssertEqual(run(ctx, "get"), "-ERR wrong number of arguments for 'get' command\r\n")
        XCTAssertEqual(run(ctx, "client", "nosuch"), "-ERR unknown subcommand 'nosuch'. Try CLIENT HELP.\r\n")
    }

    func testSetGetThroughDispatcher() {
        let ctx = context()
        XCTAssertEqual(run(ctx, "SET", "k", "v"), "+OK\r\n")
        XCTAssertEqual(run(ctx, "GET", "k"), "$1\r\nv\r\n")
        XCTAssertEqual(run(ctx, "INCR", "k"), "-ERR value is not an integer or out of range\r\n")
        XCTAssertEqual(run(ctx, "INCR", "n"), ":1\r\n")
    }

    func testAuthRequiredOnlyWhilePasswordIsSet() {
        server.requirePass = Array("secret".utf8)
        defer { server.requirePass = nil }
        let ctx = context(authenticated: false)
        XCTAssertEqual(run(ctx, "GET", "k"), "-NOAUTH Authentication required.\r\n")
        server.requirePass = nil
        XCTAssertEqual(run(ctx, "GET", "k"), "$-1\r\n")
    }

    func testMultiQueuesAndExecAbortsAfterQueueingError() {
        let ctx = context()
        XCTAssertEqual(run(ctx, "MULTI"), "+OK\r\n")
        XCTAssertEqual(run(ctx, "SET", "a", "1"), "+QUEUED\r\n")
        XCTAssertEqual(ctx.client.multiQueued, 1)
        XCTAssertEqual(run(ctx, "GET"), "-ERR wrong number of arguments for 'get' command\r\n")
        XCTAssertEqual(run(ctx, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n")
        XCTAssertEqual(ctx.client.multiQueued, -1)
        XCTAssertEqual(run(ctx, "GET", "a"), "$-1\r\n")
        XCTAssertEqual(run(ctx, "MULTI"), "+OK\r\n")
        XCTAssertEqual(run(ctx, "SET", "a", "1"), "+QUEUED\r\n")
        XCTAssertEqual(run(ctx, "INCR", "a"), "+QUEUED\r\n")
        XCTAssertEqual(run(ctx, "EXEC"), "*2\r\n+OK\r\n:2\r\n")
    }

    func testWatchedKeyWrittenByAnotherClientFailsExec() {
        let a = context(), b = context()
        XCTAssertEqual(run(a, "WATCH", "w"), "+OK\r\n")
        XCTAssertEqual(run(b, "SET", "w", "x"), "+OK\r\n")
        XCTAssertEqual(run(a, "MULTI"), "+OK\r\n")
        XCTAssertEqual(run(a, "GET", "w"), "+QUEUED\r\n")
        XCTAssertEqual(run(a, "EXEC"), "*-1\r\n")
    }
}
