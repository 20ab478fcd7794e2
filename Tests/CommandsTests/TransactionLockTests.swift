@testable import Commands
import RESP
import Dispatch
import Store
import XCTest

/// EXEC locks the shards of its queued commands' keys and of the watched keys, and every shard
/// only when a queued command declares no keys. Checked by holding one shard's lock on another
/// thread: EXEC must finish when that shard is not its own, and must wait for it otherwise.
final class TransactionLockTests: HandlerTestCase {
    let keyspace = Keyspace(shards: 64)

    func shard(of key: String) -> Int {
        Array(key.utf8).withUnsafeBufferPointer { keyspace.shardIndex(keyspace.hash($0)) }
    }

    /// A key whose shard is not in `avoid`.
    func key(avoiding avoid: Set<Int>, prefix: String) -> String {
        var i = 0
        while avoid.contains(shard(of: "\(prefix)\(i)")) { i += 1 }
        return "\(prefix)\(i)"
    }

    /// Runs the transaction on a background queue while `held` is locked by this thread; returns
    /// whether EXEC finished before the lock was released (waiting up to `wait`), and its reply.
    func execWhileHolding(_ held: Int, _ commands: [[String]], watch: [String] = [], wait: TimeInterval,
                          on given: CommandContext? = nil) -> (finishedWhileHeld: Bool, reply: Reply?) {
        let ctx = given ?? context(keyspace)
        if !watch.isEmpty { XCTAssertEqual(run(ctx, ["WATCH"] + watch), .simple("OK")) }
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        for c in commands { XCTAssertEqual(run(ctx, c), .simple("QUEUED")) }
        let shard = keyspace.shards[held]
        shard.lock()
        let done = DispatchSemaphore(value: 0)
        // The background queue only runs EXEC; the test reads the reply after the semaphore.
        nonisolated(unsafe) var reply: Reply?
        nonisolated(unsafe) let test = self, context = ctx
        DispatchQueue.global().async {
            reply = test.run(context, ["EXEC"])
            done.signal()
        }
        let finished = done.wait(timeout: .now() + wait) == .success
        shard.unlock()
        if !finished { XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "EXEC never finished") }
        return (finished, reply)
    }

    func testExecDoesNotWaitForShardsItsKeysAreNotIn() {
        let a = "tx:a", b = key(avoiding: [shard(of: "tx:a")], prefix: "tx:b")
        let other = (0..<64).first { $0 != shard(of: a) && $0 != shard(of: b) }!
        let r = execWhileHolding(other, [["SET", a, "1"], ["INCR", a], ["MSET", a, "2", b, "3"], ["MGET", a, b]],
                                 wait: 30)
        XCTAssertTrue(r.finishedWhileHeld, "EXEC waited for a shard none of its keys is in")
        XCTAssertEqual(r.reply, .array([.simple("OK"), .integer(2), .simple("OK"), .array([.bulk("2"), .bulk("3")])]))
    }

    func testExecWaitsForTheShardsOfItsKeys() {
        let a = "tx:a", b = key(avoiding: [shard(of: a)], prefix: "tx:b")
        let r = execWhileHolding(shard(of: b), [["SET", a, "1"], ["SET", b, "2"]], wait: 0.3)
        XCTAssertFalse(r.finishedWhileHeld, "EXEC ran while another thread held the shard of one of its keys")
        XCTAssertEqual(r.reply, .array([.simple("OK"), .simple("OK")]))
    }

    func testExecWaitsForTheShardsOfWatchedKeys() {
        let a = "tx:a", w = key(avoiding: [shard(of: a)], prefix: "tx:w")
        let r = execWhileHolding(shard(of: w), [["SET", a, "1"]], watch: [w], wait: 0.3)
        XCTAssertFalse(r.finishedWhileHeld, "EXEC checked a watched key without its shard's lock")
        XCTAssertEqual(r.reply, .array([.simple("OK")]))
    }

    func testAKeylessCommandMakesExecTakeEveryShard() {
        let a = "tx:a"
        let other = (0..<64).first { $0 != shard(of: a) }!
        for keyless in [["DBSIZE"], ["PING"], ["FLUSHDB"], ["TAG.INVALIDATE", "t"]] {
            let r = execWhileHolding(other, [["SET", a, "1"], keyless], wait: 0.3)
            XCTAssertFalse(r.finishedWhileHeld, "EXEC with \(keyless[0]) did not take every shard")
            guard case let .array(items)? = r.reply else { return XCTFail("\(keyless): \(String(describing: r.reply))") }
            XCTAssertEqual(items.count, 2)
        }
    }

    /// The fixed key range EXEC uses when a command is queued finds the same keys as the key
    /// specs (COMMAND GETKEYS's way), for every command that has one, at every argument count.
    func testKeyRangeFindsWhatTheKeySpecsFind() throws {
        var checked = 0
        for spec in table.allSpecs {
            guard let r = spec.keyRange else { continue }
            let counts = spec.arity > 0 ? [spec.arity] : Array((-spec.arity)...(-spec.arity + 5))
            for argc in counts {
                let words = (0..<argc).map { Array("a\($0)".utf8) }
                let owned = OwnedArguments(values: words)
                let viaSpecs: [Int]? = owned.withArguments { args in
                    KeySpec.keys(spec.described.keySpecs, argc: args.count, { args[$0] })?.map(\.0)
                }
                let last = r.last < 0 ? argc + r.last : r.last
                let viaRange = r.first <= last && last < argc ? Array(stride(from: r.first, through: last, by: r.step)) : nil
                if let viaRange, let viaSpecs {
                    XCTAssertEqual(viaRange, viaSpecs.sorted(), "\(spec.fullName) with \(argc) arguments")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    /// Queued arguments come back as sent: empty ones, long commands, many commands.
    func testQueuedCommandsRunWithTheirArguments() {
        let ctx = context(keyspace)
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        let pairs = (0..<150).flatMap { ["m\($0)", "v\($0)"] }
        for c in [["SET", "", ""], ["APPEND", "e", ""], ["MSET"] + pairs, ["GET", ""], ["STRLEN", "e"],
                  ["MGET", "m0", "m149", "nope"]] {
            XCTAssertEqual(run(ctx, c), .simple("QUEUED"))
        }
        XCTAssertEqual(ctx.client.multiQueued, 6)
        XCTAssertEqual(run(ctx, ["EXEC"]), .array([.simple("OK"), .integer(0), .simple("OK"), .bulk(""), .integer(0),
                                                   .array([.bulk("v0"), .bulk("v149"), .bulk(nil)])]))
        XCTAssertEqual(ctx.client.multiQueued, -1)
    }

    /// A client's next transaction starts empty and clean, whatever the last one left: an
    /// aborted queue, keyless commands (every shard), a large queue.
    func testEachTransactionStartsFresh() {
        let ctx = context(keyspace)
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["NOSUCH"]), .error("ERR unknown command 'NOSUCH', with args beginning with: "))
        XCTAssertEqual(run(ctx, ["EXEC"]), .error("EXECABORT Transaction discarded because of previous errors."))
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["DBSIZE"]), .simple("QUEUED"))
        XCTAssertEqual(run(ctx, ["EXEC"]), .array([.integer(0)]))
        let big = String(repeating: "x", count: 100_000)
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["SET", "big", big]), .simple("QUEUED"))
        XCTAssertEqual(run(ctx, ["EXEC"]), .array([.simple("OK")]))
        let a = "tx:a"
        let other = (0..<64).first { $0 != shard(of: a) }!
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["PING"]), .simple("QUEUED"))
        XCTAssertEqual(run(ctx, ["EXEC"]), .array([.simple("PONG")]))
        let r = execWhileHolding(other, [["GET", a]], wait: 30, on: ctx)
        XCTAssertTrue(r.finishedWhileHeld, "the last transaction's every-shard mark stayed")
        XCTAssertEqual(r.reply, .array([.bulk(nil)]))
        XCTAssertEqual(run(ctx, ["MULTI"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["DISCARD"]), .simple("OK"))
        XCTAssertEqual(run(ctx, ["EXEC"]), .error("ERR EXEC without MULTI"))
    }
}
