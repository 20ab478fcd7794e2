import Dispatch
import Store
import Synchronization
import TagCache
import XCTest

/// MULTI/EXEC against a real server under load: a transaction that writes keys in many shards
/// is seen whole or not at all by a concurrent reader, and EXEC fails (null array) when a
/// watched key changed, expired or was flushed between WATCH and EXEC.
final class TransactionAtomicityTests: XCTestCase {
    /// What the writer thread reports back to the test.
    final class Outcome: Sendable {
        let writerDone = Atomic<Bool>(false)
        let failures = Locked<[String]>([])
        func fail(_ m: String) { failures.withLock { $0.append(m) } }
    }

    /// `count` keys, each in a different shard of the server's keyspace.
    static func keysInDistinctShards(_ server: TagCacheServer, count: Int, prefix: String = "atomic:") -> [String] {
        let ks = server.keyspace
        var shards = Set<Int>()
        var keys: [String] = []
        var i = 0
        while keys.count < count && i < 100_000 {
            let k = "\(prefix)\(i)"
            i += 1
            if shards.insert(shardOf(k, ks)).inserted { keys.append(k) }
        }
        return keys
    }

    static func shardOf(_ key: String, _ ks: Keyspace) -> Int {
        Array(key.utf8).withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) }
    }

    /// The values of a RESP2 array of bulk strings holding no CR or LF (MGET of numbers).
    static func bulkValues(_ reply: String) -> [String]? {
        let lines = reply.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard let head = lines.first, head.hasPrefix("*"), let n = Int(head.dropFirst()), lines.count >= 2 * n + 1 else {
            return nil
        }
        return (0..<n).map { lines[2 + 2 * $0] }
    }

    /// MGET (one command, atomic in Redis) must never see part of a transaction.
    func testMultiExecIsAtomicAcrossShardsUnderLoad() throws {
        try checkAtomicity(reader: "MGET") { keys in
            TestClient.encode(["MGET"] + keys)
        } read: { c, keys in
            let reply = try c.readReplyText()
            guard let values = Self.bulkValues(reply), values.count == keys.count else {
                throw TestClientError.malformed("MGET reply \(reply.debugDescription)")
            }
            return values
        }
    }

    /// The same with a reader that reads the keys in its own MULTI/EXEC: this one depends only
    /// on EXEC holding every shard, not on how MGET locks.
    func testMultiExecIsAtomicForATransactionalReader() throws {
        try checkAtomicity(reader: "MULTI/GET/EXEC") { keys in
            TestClient.encode(["MULTI"]) + keys.flatMap { TestClient.encode(["GET", $0]) } + TestClient.encode(["EXEC"])
        } read: { c, keys in
            var queued = [try c.readReplyText()]
            for _ in keys { queued.append(try c.readReplyText()) }
            guard queued == ["+OK\r\n"] + Array(repeating: "+QUEUED\r\n", count: keys.count) else {
                throw TestClientError.malformed("reader transaction: \(queued.prefix(3))")
            }
            let reply = try c.readReplyText()
            guard let values = Self.bulkValues(reply), values.count == keys.count else {
                throw TestClientError.malformed("EXEC reply \(reply.debugDescription)")
            }
            return values
        }
    }

    /// One connection runs `MULTI; SET k1..k16 n; EXEC` for n = 1...rounds (pipelined, keys in
    /// sixteen shards) while this thread reads the sixteen keys with `request`/`read` until the
    /// writer is done: every read must hold one value sixteen times, and values never go back.
    func checkAtomicity(reader: String, request: ([String]) -> [UInt8],
                        read: (TestClient, [String]) throws -> [String]) throws {
        let s = try TestServer()
        defer { s.stop() }
        XCTAssertGreaterThanOrEqual(s.server.keyspace.shardCount, 16)
        let keys = Self.keysInDistinctShards(s.server, count: 16)
        XCTAssertEqual(keys.count, 16)
        XCTAssertEqual(Set(keys.map { Self.shardOf($0, s.server.keyspace) }).count, 16, "keys must be in 16 different shards")

        let setup = try s.client()
        assertReply(try call(setup, ["MSET"] + keys.flatMap { [$0, "0"] }), "+OK\r\n")

        let rounds = 3000, batch = 50, readsPerWrite = 4
        let outcome = Outcome()
        let readerReady = DispatchSemaphore(value: 0)
        let writerFinished = DispatchSemaphore(value: 0)
        let port = s.port
        let okReplies = "*\(keys.count)\r\n" + String(repeating: "+OK\r\n", count: keys.count)

        DispatchQueue.global().async {
            defer {
                outcome.writerDone.store(true, ordering: .releasing)
                writerFinished.signal()
            }
            do {
                let w = try TestClient(port: port)
                // Start writing only once the reader is reading, so the two really overlap.
                readerReady.wait()
                var n = 1
                while n <= rounds {
                    let last = min(rounds, n + batch - 1)
                    var request: [UInt8] = []
                    for v in n...last {
                        request += TestClient.encode(["MULTI"])
                        for k in keys { request += TestClient.encode(["SET", k, String(v)]) }
                        request += TestClient.encode(["EXEC"])
                    }
                    try w.send(raw: request)
                    for v in n...last {
                        var replies = [try w.readReplyText()]
                        for _ in keys { replies.append(try w.readReplyText()) }
                        let exec = try w.readReplyText()
                        if replies != ["+OK\r\n"] + Array(repeating: "+QUEUED\r\n", count: keys.count) || exec != okReplies {
                            outcome.fail("transaction \(v): replies \(replies.prefix(3)) ... EXEC \(exec.debugDescription)")
                            return
                        }
                    }
                    n = last + 1
                }
            } catch {
                outcome.fail("writer: \(error)")
            }
        }

        let r = try s.client()
        let one = request(keys)
        var many: [UInt8] = []
        for _ in 0..<readsPerWrite { many += one }
        var reads = 0, torn = 0, backwards = 0, distinct = Set<Int>()
        var previous = 0
        var firstTorn: String?
        var signalled = false
        defer {
            // Whatever happened here, never leave the writer waiting for the reader.
            if !signalled { readerReady.signal() }
        }
        while true {
            let writerWasDone = outcome.writerDone.load(ordering: .acquiring)
            try r.send(raw: many)
            for _ in 0..<readsPerWrite {
                let values = try read(r, keys)
                reads += 1
                if Set(values).count != 1 {
                    torn += 1
                    if firstTorn == nil { firstTorn = values.joined(separator: ",") }
                    continue
                }
                let v = Int(values[0]) ?? -1
                if v < previous { backwards += 1 }
                previous = v
                distinct.insert(v)
            }
            if !signalled {
                signalled = true
                readerReady.signal()
            }
            if writerWasDone { break }
        }
        XCTAssertEqual(writerFinished.wait(timeout: .now() + 60), .success, "the writer did not finish")
        XCTAssertEqual(outcome.failures.withLock { $0 }, [])
        XCTAssertEqual(torn, 0, "\(reader) saw part of a transaction \(torn) times in \(reads) reads, first: \(firstTorn ?? "")")
        XCTAssertEqual(backwards, 0, "\(reader) saw values go back")
        XCTAssertEqual(previous, rounds, "the last read must see the last transaction")
        // Not a timing assertion: evidence that reads overlapped the writes.
        print("TransactionAtomicityTests: \(reads) reads by \(reader) saw \(distinct.count) distinct states of \(rounds) transactions")
    }

    /// A reply to EXEC after an aborted transaction, in the client's protocol.
    static func nullArray(_ resp3: Bool) -> String { resp3 ? "_\r\n" : "*-1\r\n" }

    func testWatchedKeyWrittenByAnotherClientAbortsExec() throws {
        let s = try TestServer()
        defer { s.stop() }
        let keys = Self.keysInDistinctShards(s.server, count: 16, prefix: "watched:")
        for resp3 in [false, true] {
            let a = try s.client()
            let b = try s.client()
            if resp3 { _ = try a.command("HELLO", "3") }
            assertReply(try a.command("SET", "k", "1"), "+OK\r\n")
            assertReply(try a.command("WATCH", "k"), "+OK\r\n")
            assertReply(try b.command("SET", "k", "2"), "+OK\r\n")
            assertReply(try a.command("MULTI"), "+OK\r\n")
            assertReply(try a.command("SET", "k", "3"), "+QUEUED\r\n")
            assertReply(try a.command("EXEC"), Self.nullArray(resp3), "write between WATCH and EXEC")
            assertReply(try a.command("GET", "k"), "$1\r\n2\r\n")

            // Keys in sixteen shards watched at once: a write to any one of them aborts.
            assertReply(try call(a, ["MSET"] + keys.flatMap { [$0, "0"] }), "+OK\r\n")
            for changed in [keys[0], keys[9], keys[15]] {
                assertReply(try call(a, ["WATCH"] + keys), "+OK\r\n")
                assertReply(try b.command("INCR", changed), ":1\r\n")
                assertReply(try a.command("MULTI"), "+OK\r\n")
                for k in keys { assertReply(try a.command("SET", k, "mine"), "+QUEUED\r\n") }
                assertReply(try a.command("EXEC"), Self.nullArray(resp3), "write to \(changed)")
                assertReply(try a.command("GET", keys[3]), "$1\r\n0\r\n", "an aborted EXEC writes nothing")
                assertReply(try b.command("SET", changed, "0"), "+OK\r\n")
            }
            // Nothing written: the transaction commits, and EXEC forgot the watched keys.
            assertReply(try call(a, ["WATCH"] + keys), "+OK\r\n")
            assertReply(try b.command("GET", keys[5]), "$1\r\n0\r\n")
            assertReply(try a.command("MULTI"), "+OK\r\n")
            assertReply(try a.command("INCR", keys[5]), "+QUEUED\r\n")
            assertReply(try a.command("EXEC"), "*1\r\n:1\r\n")
            assertReply(try b.command("SET", keys[5], "x"), "+OK\r\n")
            assertReply(try a.command("MULTI"), "+OK\r\n")
            assertReply(try a.command("GET", keys[5]), "+QUEUED\r\n")
            assertReply(try a.command("EXEC"), "*1\r\n$1\r\nx\r\n")
            assertReply(try a.command("DEL", "k"), ":1\r\n")
        }
    }

    func testWatchedKeyExpiringAbortsExec() throws {
        let s = try TestServer()
        defer { s.stop() }
        let clock = s.server.keyspace.clock
        let a = try s.client()
        let b = try s.client()

        // The deadline passes between WATCH and EXEC (the test clock moves; nothing sleeps).
        assertReply(try a.command("SET", "k", "v", "PX", "5000"), "+OK\r\n")
        assertReply(try a.command("WATCH", "k"), "+OK\r\n")
        clock.advance(10_000)
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("SET", "other", "x"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*-1\r\n", "watched key expired")
        assertReply(try a.command("GET", "other"), "$-1\r\n")

        // Same, with another client touching the expired key first (which removes it).
        assertReply(try a.command("SET", "k", "v", "PX", "5000"), "+OK\r\n")
        assertReply(try a.command("WATCH", "k"), "+OK\r\n")
        clock.advance(10_000)
        assertReply(try b.command("GET", "k"), "$-1\r\n")
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("SET", "other", "x"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*-1\r\n", "watched key expired and was removed")

        // A deadline that has not passed changes nothing.
        assertReply(try a.command("SET", "k", "v", "EX", "1000"), "+OK\r\n")
        assertReply(try a.command("WATCH", "k"), "+OK\r\n")
        clock.advance(10_000)
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("SET", "other", "x"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*1\r\n+OK\r\n")

        // Another client's EXPIRE on the watched key is a change too.
        assertReply(try a.command("WATCH", "k"), "+OK\r\n")
        assertReply(try b.command("EXPIRE", "k", "5000"), ":1\r\n")
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("GET", "k"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*-1\r\n", "EXPIRE between WATCH and EXEC")
    }

    func testFlushBetweenWatchAndExecAbortsExec() throws {
        let s = try TestServer()
        defer { s.stop() }
        let a = try s.client()
        let b = try s.client()
        for flush in [["FLUSHALL"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"]] {
            assertReply(try a.command("SET", "k", "v"), "+OK\r\n")
            assertReply(try a.command("WATCH", "k"), "+OK\r\n")
            assertReply(try call(b, flush), "+OK\r\n")
            assertReply(try a.command("MULTI"), "+OK\r\n")
            assertReply(try a.command("SET", "k", "mine"), "+QUEUED\r\n")
            assertReply(try a.command("EXEC"), "*-1\r\n", "\(flush.joined(separator: " ")) between WATCH and EXEC")
            assertReply(try a.command("GET", "k"), "$-1\r\n")
        }

        // As in Redis: a flush only touches watched keys that existed, and only in its db.
        assertReply(try a.command("WATCH", "missing"), "+OK\r\n")
        assertReply(try b.command("FLUSHALL"), "+OK\r\n")
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("SET", "k", "mine"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*1\r\n+OK\r\n", "the watched key did not exist")

        assertReply(try a.command("WATCH", "k"), "+OK\r\n")
        assertReply(try b.command("SELECT", "1"), "+OK\r\n")
        assertReply(try b.command("FLUSHDB"), "+OK\r\n")
        assertReply(try a.command("MULTI"), "+OK\r\n")
        assertReply(try a.command("GET", "k"), "+QUEUED\r\n")
        assertReply(try a.command("EXEC"), "*1\r\n$4\r\nmine\r\n", "another db was flushed")
    }
}

/// Sends a command given as an array of words and returns its reply as text.
private func call(_ c: TestClient, _ args: [String]) throws -> String {
    try c.send(raw: TestClient.encode(args))
    return TestClient.text(try c.readReply())
}
