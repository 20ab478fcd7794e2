import Commands
import RESP
import Store
import XCTest

/// A test case that runs commands through the real dispatcher on in-process contexts, no
/// sockets: `run` returns the parsed RESP2 reply.
class HandlerTestCase: XCTestCase {
    let table = CommandTable.standard()
    let server = StubServer()
    var owners: [AnyObject] = []

    func context(_ keyspace: Keyspace) -> CommandContext {
        let reply = ReplyWriter(), client = ClientState(id: 1, authenticated: true, now: 0)
        let counters = LoopCounters(commandSlots: table.allSpecs.count)
        owners += [reply, client, counters]
        return CommandContext(keyspace: keyspace, reply: reply, client: client, table: table, server: server,
                              counters: counters)
    }

    func run(_ ctx: CommandContext, _ words: [String]) -> Reply {
        let owned = OwnedArguments(values: words.map { Array($0.utf8) })
        ctx.now = ctx.keyspace.clock.nowMs()
        ctx.reply.out.clear()
        owned.withArguments { Dispatcher.execute(ctx, $0) }
        let all = ctx.reply.out.readableArray()
        var i = 0
        return Reply.parse(all, &i)
    }
}
