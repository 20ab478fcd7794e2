import Dispatch
import Glibc
import TagCache
import XCTest

/// Connection and server commands over TCP, replies compared byte for byte with what
/// redis-server 7 sends (TagCache's deliberate additions are named where they are asserted).
final class ConnectionCommandsTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws { server = try TestServer() }

    override func tearDown() {
        server?.stop()
        server = nil
    }

    /// Restarts the test's server with these directives.
    func restart(_ directives: [String: String]) throws {
        server.stop()
        server = try TestServer(directives)
    }

    func helloMap(proto: Int, id: Int) -> String {
        let head = proto == 3 ? "%8\r\n" : "*16\r\n"
        return head + "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:\(proto)\r\n"
            + "$2\r\nid\r\n:\(id)\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
            + "$7\r\nmodules\r\n*0\r\n$16\r\ntagcache_version\r\n$5\r\n0.1.0\r\n"
    }

    /// The value of `field` in an INFO reply.
    func infoField(_ c: TestClient, _ section: String, _ field: String) throws -> String? {
        let text = try c.command("INFO", section)
        for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }

    // MARK: PING ECHO QUIT SELECT

    func testPingEchoAndArity() throws {
        let c = try server.client()
        assertReply(try c.command("PING"), "+PONG\r\n")
        assertReply(try c.command("PING", "hi"), "$2\r\nhi\r\n")
        assertReply(try c.command("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n")
        assertReply(try c.command("ECHO", "x y"), "$3\r\nx y\r\n")
        assertReply(try c.command("ECHO"), "-ERR wrong number of arguments for 'echo' command\r\n")
        assertReply(try c.command("HELLO", "3"), helloMap(proto: 3, id: 1))
        assertReply(try c.command("PING"), "+PONG\r\n")
        assertReply(try c.command("PING", ""), "$0\r\n\r\n")
    }

    func testQuitRepliesOkThenCloses() throws {
        let c = try server.client()
        try c.send(raw: TestClient.encode(["QUIT"]) + TestClient.encode(["PING"]))
        XCTAssertEqual(try c.readUntilClosed(within: 5).map(TestClient.text), "+OK\r\n",
                       "QUIT answers +OK, closes, and runs nothing after it")
    }

    func testSelect() throws {
        let c = try server.client()
        assertReply(try c.command("SELECT", "16"), "-ERR DB index is out of range\r\n")
        assertReply(try c.command("SELECT", "-1"), "-ERR DB index is out of range\r\n")
        assertReply(try c.command("SELECT", "x"), "-ERR value is not an integer or out of range\r\n")
        assertReply(try c.command("SELECT", "4294967296"),
                    "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n")
        assertReply(try c.command("SELECT", "99999999999999999999"), "-ERR value is not an integer or out of range\r\n")
        assertReply(try c.command("SET", "k", "0"), "+OK\r\n")
        assertReply(try c.command("SELECT", "15"), "+OK\r\n")
        assertReply(try c.command("GET", "k"), "$-1\r\n")
        assertReply(try c.command("SELECT", "0"), "+OK\r\n")
        assertReply(try c.command("GET", "k"), "$1\r\n0\r\n")
    }

    func testReadonlyAndReadwriteWithoutCluster() throws {
        let c = try server.client()
        assertReply(try c.command("READONLY"), "-ERR This instance has cluster support disabled\r\n")
        assertReply(try c.command("READWRITE"), "-ERR This instance has cluster support disabled\r\n")
    }

    // MARK: AUTH HELLO RESET

    func testAuthWithoutPassword() throws {
        let c = try server.client()
        assertReply(try c.command("AUTH", "x"),
                    "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
        assertReply(try c.command("AUTH", "default", "anything"), "+OK\r\n")
        assertReply(try c.command("AUTH", "bob", "x"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        assertReply(try c.command("AUTH", "a", "b", "c"), "-ERR syntax error\r\n")
        assertReply(try c.command("AUTH"), "-ERR wrong number of arguments for 'auth' command\r\n")
    }

    func testAuthWithRequirepass() throws {
        try restart(["requirepass": "s3cret"])
        let c = try server.client()
        assertReply(try c.command("PING"), "-NOAUTH Authentication required.\r\n")
        assertReply(try c.command("AUTH", "wrong"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        assertReply(try c.command("AUTH", "bob", "s3cret"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        assertReply(try c.command("HELLO", "3"),
                    "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n")
        assertReply(try c.command("AUTH", "s3cret"), "+OK\r\n")
        assertReply(try c.command("PING"), "+PONG\r\n")

        let d = try server.client()
        assertReply(try d.command("AUTH", "default", "s3cret"), "+OK\r\n")
        assertReply(try d.command("RESET"), "+RESET\r\n")
        assertReply(try d.command("PING"), "-NOAUTH Authentication required.\r\n", "RESET asks for AUTH again")

        let e = try server.client()
        assertReply(try e.command("HELLO", "3", "AUTH", "default", "nope"),
                    "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        assertReply(try e.command("HELLO", "2", "AUTH", "default", "s3cret"), helloMap(proto: 2, id: 3))
        assertReply(try e.command("PING"), "+PONG\r\n")
    }

    func testHello() throws {
        let c = try server.client()
        assertReply(try c.command("HELLO"), helloMap(proto: 2, id: 1))
        assertReply(try c.command("HELLO", "4"), "-NOPROTO unsupported protocol version\r\n")
        assertReply(try c.command("HELLO", "1"), "-NOPROTO unsupported protocol version\r\n")
        assertReply(try c.command("HELLO", "three"), "-ERR Protocol version is not an integer or out of range\r\n")
        assertReply(try c.command("HELLO", "3", "bogus"), "-ERR Syntax error in HELLO option 'bogus'\r\n")
        assertReply(try c.command("HELLO", "3", "AUTH", "default"), "-ERR Syntax error in HELLO option 'AUTH'\r\n")
        assertReply(try c.command("HELLO", "3", "SETNAME", "my name"),
                    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        assertReply(try c.command("GET", "missing"), "$-1\r\n", "a failed HELLO leaves the protocol alone")
        assertReply(try c.command("HELLO", "3", "SETNAME", "app1"), helloMap(proto: 3, id: 1))
        assertReply(try c.command("GET", "missing"), "_\r\n")
        assertReply(try c.command("CLIENT", "GETNAME"), "$4\r\napp1\r\n")
        assertReply(try c.command("HELLO"), helloMap(proto: 3, id: 1), "HELLO without a version keeps RESP3")
        assertReply(try c.command("HELLO", "2"), helloMap(proto: 2, id: 1))
        assertReply(try c.command("GET", "missing"), "$-1\r\n")
    }

    func testResetLeavesTransactionDatabaseProtocolAndName() throws {
        let c = try server.client()
        assertReply(try c.command("HELLO", "3", "SETNAME", "n1"), helloMap(proto: 3, id: 1))
        assertReply(try c.command("SELECT", "3"), "+OK\r\n")
        assertReply(try c.command("SET", "in3", "v"), "+OK\r\n")
        assertReply(try c.command("CLIENT", "NO-EVICT", "on"), "+OK\r\n")
        assertReply(try c.command("WATCH", "w"), "+OK\r\n")
        assertReply(try c.command("MULTI"), "+OK\r\n")
        assertReply(try c.command("SET", "queued", "v"), "+QUEUED\r\n")
        assertReply(try c.command("RESET"), "+RESET\r\n")
        assertReply(try c.command("EXEC"), "-ERR EXEC without MULTI\r\n")
        assertReply(try c.command("GET", "queued"), "$-1\r\n", "back in RESP2, database 0, nothing executed")
        assertReply(try c.command("GET", "in3"), "$-1\r\n")
        assertReply(try c.command("CLIENT", "GETNAME"), "$-1\r\n")
        let info = try c.command("CLIENT", "INFO")
        XCTAssertTrue(info.contains(" flags=N db=0 "), info)
        XCTAssertTrue(info.contains(" resp=2 "), info)
        // RESET also forgot the watched key: a change to it no longer aborts a transaction.
        let other = try server.client()
        assertReply(try other.command("SET", "w", "changed"), "+OK\r\n")
        assertReply(try c.command("MULTI"), "+OK\r\n")
        assertReply(try c.command("PING"), "+QUEUED\r\n")
        assertReply(try c.command("EXEC"), "*1\r\n+PONG\r\n")
    }

    // MARK: CLIENT

    func testClientNames() throws {
        let c = try server.client()
        assertReply(try c.command("CLIENT", "ID"), ":1\r\n")
        assertReply(try c.command("CLIENT", "GETNAME"), "$-1\r\n")
        assertReply(try c.command("CLIENT", "SETNAME", "a b"),
                    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        assertReply(try c.command("CLIENT", "SETNAME", "a\nb"),
                    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        assertReply(try c.command("CLIENT", "SETNAME", "worker-1"), "+OK\r\n")
        assertReply(try c.command("CLIENT", "GETNAME"), "$8\r\nworker-1\r\n")
        assertReply(try c.command("CLIENT", "SETNAME", ""), "+OK\r\n")
        assertReply(try c.command("CLIENT", "GETNAME"), "$-1\r\n")
        assertReply(try c.command("CLIENT", "SETNAME"), "-ERR wrong number of arguments for 'client|setname' command\r\n")
        assertReply(try c.command("CLIENT", "SETINFO", "lib-name", "redis-py"), "+OK\r\n")
        assertReply(try c.command("CLIENT", "SETINFO", "LIB-VER", "5.0.1"), "+OK\r\n")
        assertReply(try c.command("CLIENT", "SETINFO", "lib-ver", "a b"),
                    "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n")
        assertReply(try c.command("CLIENT", "SETINFO", "foo", "x"), "-ERR Unrecognized option 'foo'\r\n")
        let info = try c.command("CLIENT", "INFO")
        XCTAssertTrue(info.hasSuffix(" resp=2 lib-name=redis-py lib-ver=5.0.1\n\r\n"), info)
        assertReply(try c.command("CLIENT", "NOSUCH"), "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n")
        assertReply(try c.command("CLIENT"), "-ERR wrong number of arguments for 'client' command\r\n")
    }

    func testClientListAndInfoLayout() throws {
        let a = try server.client()
        let b = try server.client()
        assertReply(try b.command("CLIENT", "SETNAME", "bee"), "+OK\r\n")
        let list = try a.command("CLIENT", "LIST")
        // "\r\n" is one Character: split the header off, then the lines.
        let body = list.split(separator: "\r\n", maxSplits: 1)[1]
        let lines = body.split(separator: "\n").filter { $0 != "\r\n" }
        XCTAssertEqual(lines.count, 2, list)
        let fields = lines[0].split(separator: " ").map { String($0.split(separator: "=", maxSplits: 1)[0]) }
        XCTAssertEqual(fields, ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub",
                                "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem",
                                "tot-mem", "events", "cmd", "user", "redir", "resp", "lib-name", "lib-ver"])
        XCTAssertTrue(lines[0].hasPrefix("id=1 addr=127.0.0.1:"), String(lines[0]))
        XCTAssertTrue(lines[0].contains(" laddr=127.0.0.1:\(server.port) "), String(lines[0]))
        XCTAssertTrue(lines[0].contains(" cmd=client|list user=default redir=-1 resp=2 "), String(lines[0]))
        XCTAssertTrue(lines[1].hasPrefix("id=2 ") && lines[1].contains(" name=bee "), String(lines[1]))
        XCTAssertTrue(lines[1].contains(" cmd=client|setname "), String(lines[1]))

        let only = try a.command("CLIENT", "LIST", "ID", "2", "99", "1")
        XCTAssertTrue(only.contains("id=2 ") && only.contains("\nid=1 "), "in the order asked: \(only)")
        assertReply(try a.command("CLIENT", "LIST", "ID", "99"), "$0\r\n\r\n")
        assertReply(try a.command("CLIENT", "LIST", "TYPE", "pubsub"), "$0\r\n\r\n")
        XCTAssertTrue(try a.command("CLIENT", "LIST", "TYPE", "NORMAL").contains("id=2 "))
        assertReply(try a.command("CLIENT", "LIST", "TYPE", "x"), "-ERR Unknown client type 'x'\r\n")
        assertReply(try a.command("CLIENT", "LIST", "ID", "x"), "-ERR Invalid client ID\r\n")
        assertReply(try a.command("CLIENT", "LIST", "ID"), "-ERR syntax error\r\n")
        assertReply(try a.command("CLIENT", "LIST", "foo"), "-ERR syntax error\r\n")

        // RESP3: CLIENT INFO and CLIENT LIST are verbatim strings.
        _ = try a.command("HELLO", "3")
        let info = try a.command("CLIENT", "INFO")
        let line = "id=1 " + info.split(separator: "id=1 ", maxSplits: 1)[1].dropLast()
        XCTAssertEqual(info, "=\(line.utf8.count + 4)\r\ntxt:\(line)\r\n")
        XCTAssertTrue(line.hasSuffix(" cmd=client|info user=default redir=-1 resp=3 lib-name= lib-ver=\n"), line)
    }

    func testClientModesShowInFlags() throws {
        let c = try server.client()
        assertReply(try c.command("CLIENT", "NO-EVICT", "maybe"), "-ERR syntax error\r\n")
        assertReply(try c.command("CLIENT", "NO-EVICT", "on"), "+OK\r\n")
        XCTAssertTrue(try c.command("CLIENT", "INFO").contains(" flags=e "))
        assertReply(try c.command("CLIENT", "NO-TOUCH", "ON"), "+OK\r\n")
        XCTAssertTrue(try c.command("CLIENT", "INFO").contains(" flags=eT "))
        assertReply(try c.command("CLIENT", "NO-EVICT", "off"), "+OK\r\n")
        assertReply(try c.command("MULTI"), "+OK\r\n")
        let d = try server.client()
        XCTAssertTrue(try d.command("CLIENT", "LIST", "ID", "1").contains(" flags=xT db=0 sub=0 psub=0 ssub=0 multi=0 "))
        assertReply(try c.command("CLIENT", "GETREDIR"), "+QUEUED\r\n")
        assertReply(try c.command("EXEC"), "*1\r\n:-1\r\n")
        assertReply(try c.command("CLIENT", "TRACKINGINFO"),
                    "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n")
        _ = try c.command("HELLO", "3")
        assertReply(try c.command("CLIENT", "TRACKINGINFO"),
                    "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n")
    }

    func testClientKill() throws {
        let a = try server.client()
        let b = try server.client()
        let c = try server.client()
        assertReply(try b.command("PING"), "+PONG\r\n")
        assertReply(try a.command("CLIENT", "KILL", "ID", "x"), "-ERR client-id should be greater than 0\r\n")
        assertReply(try a.command("CLIENT", "KILL", "ID", "0"), "-ERR client-id should be greater than 0\r\n")
        assertReply(try a.command("CLIENT", "KILL", "TYPE", "x"), "-ERR Unknown client type 'x'\r\n")
        assertReply(try a.command("CLIENT", "KILL", "SKIPME", "maybe"), "-ERR syntax error\r\n")
        assertReply(try a.command("CLIENT", "KILL", "foo", "bar"), "-ERR syntax error\r\n")
        assertReply(try a.command("CLIENT", "KILL", "ID", "2", "SKIPME"), "-ERR syntax error\r\n")
        assertReply(try a.command("CLIENT", "KILL", "USER", "nobody"), "-ERR No such user 'nobody'\r\n")
        assertReply(try a.command("CLIENT", "KILL", "MAXAGE", "0"), "-ERR maxage should be greater than 0\r\n")
        assertReply(try a.command("CLIENT", "KILL", "MAXAGE", "x"), "-ERR maxage is not an integer or out of range\r\n")
        assertReply(try a.command("CLIENT", "KILL", "1.2.3.4:5"), "-ERR No such client\r\n")
        assertReply(try a.command("CLIENT", "KILL", "ID", "99"), ":0\r\n")
        assertReply(try a.command("CLIENT", "KILL", "MAXAGE", "1000"), ":0\r\n")
        assertReply(try a.command("CLIENT", "KILL"), "-ERR wrong number of arguments for 'client|kill' command\r\n")

        assertReply(try a.command("CLIENT", "KILL", "ID", "2"), ":1\r\n")
        XCTAssertNotNil(try b.readUntilClosed(within: 5), "the killed client's connection is closed")

        // The old form names the peer address and may kill the caller itself.
        let me = try c.command("CLIENT", "INFO")
        let addr = String(me.split(separator: " ")[1].dropFirst("addr=".count))
        assertReply(try a.command("CLIENT", "KILL", "ADDR", addr, "SKIPME", "yes"), ":1\r\n")
        XCTAssertNotNil(try c.readUntilClosed(within: 5))
        let aInfo = try a.command("CLIENT", "INFO")
        let aAddr = String(aInfo.split(separator: " ")[1].dropFirst("addr=".count))
        assertReply(try a.command("CLIENT", "KILL", "USER", "default"), ":0\r\n", "SKIPME defaults to yes")
        try a.send("CLIENT", "KILL", aAddr)
        XCTAssertEqual(try a.readUntilClosed(within: 5).map(TestClient.text), "+OK\r\n")
    }

    func testClientHelp() throws {
        let c = try server.client()
        let help = try c.command("CLIENT", "HELP")
        XCTAssertTrue(help.hasPrefix("*45\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"), help)
        XCTAssertTrue(help.hasSuffix("+HELP\r\n+    Prints this help.\r\n"), help)
        assertReply(try c.command("CLIENT", "HELP", "x"), "-ERR wrong number of arguments for 'client|help' command\r\n")
    }

    // MARK: INFO

    func testInfoSectionsAndStats() throws {
        let c = try server.client()
        assertReply(try c.command("SET", "a", "1"), "+OK\r\n")
        assertReply(try c.command("SET", "t", "1", "EX", "100"), "+OK\r\n")
        assertReply(try c.command("GET", "a"), "$1\r\n1\r\n")
        assertReply(try c.command("GET", "nope"), "$-1\r\n")
        assertReply(try c.command("GET", "nope2"), "$-1\r\n")
        assertReply(try c.command("INFO", "nosuch"), "$0\r\n\r\n")
        assertReply(try c.command("INFO", "modules"), "$11\r\n# Modules\r\n\r\n")
        assertReply(try c.command("INFO", "CLUSTER"), "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n")

        func headers(_ args: String...) throws -> [String] {
            let text = TestClient.text(try c.commandBytes((["INFO"] + args).map { Array($0.utf8) }))
            return text.split(separator: "\r\n").filter { $0.hasPrefix("# ") }.map { String($0.dropFirst(2)) }
        }
        let defaults = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                        "Errorstats", "Cluster", "Keyspace"]
        XCTAssertEqual(try headers(), defaults)
        XCTAssertEqual(try headers("default"), defaults)
        // Redis 7's sections in Redis's order; TagCache's own (tags, key prefixes) come after them
        // in all/everything and on request, so the default INFO stays what Redis prints.
        let all = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                   "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace", "Tags", "Keyprefixes"]
        XCTAssertEqual(try headers("all"), all)
        XCTAssertEqual(try headers("everything"), all)
        XCTAssertEqual(try headers("tags"), ["Tags"])
        XCTAssertEqual(try headers("keyspace", "server", "SERVER"), ["Server", "Keyspace"])

        XCTAssertEqual(try infoField(c, "stats", "keyspace_hits"), "1")
        XCTAssertEqual(try infoField(c, "stats", "keyspace_misses"), "2")
        XCTAssertEqual(try infoField(c, "stats", "keyspace_hit_rate"), "33.33")
        XCTAssertEqual(try infoField(c, "clients", "connected_clients"), "1")
        let d = try server.client()
        assertReply(try d.command("PING"), "+PONG\r\n")
        XCTAssertEqual(try infoField(c, "clients", "connected_clients"), "2")
        XCTAssertEqual(try infoField(c, "server", "tcp_port"), String(server.port))
        XCTAssertEqual(try infoField(c, "server", "redis_version"), "7.2.4")
        XCTAssertGreaterThan(Int(try infoField(c, "memory", "used_memory") ?? "") ?? 0, 0)

        let db0 = try infoField(c, "keyspace", "db0") ?? ""
        XCTAssertTrue(db0.hasPrefix("keys=2,expires=1,avg_ttl="), db0)
        let avg = Int(db0.split(separator: "=").last ?? "") ?? 0
        XCTAssertTrue(avg > 90_000 && avg <= 100_000, "avg_ttl is the remaining TTL in ms: \(db0)")

        let processed = Int(try infoField(c, "stats", "total_commands_processed") ?? "") ?? 0
        XCTAssertGreaterThan(processed, 10)
        let cmd = try infoField(c, "commandstats", "cmdstat_get") ?? ""
        XCTAssertTrue(cmd.hasPrefix("calls=3,usec="), cmd)
        XCTAssertTrue(cmd.hasSuffix(",rejected_calls=0,failed_calls=0"), cmd)

        _ = try c.command("HELLO", "3")
        let v = try c.command("INFO", "cluster")
        XCTAssertEqual(v, "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n")
    }

    func testErrorStatsCountErrorRepliesByCode() throws {
        let c = try server.client()
        assertReply(try c.command("SET", "s", "x"), "+OK\r\n")
        _ = try c.command("INCR", "s")
        _ = try c.command("NOSUCHCOMMAND")
        _ = try c.command("HELLO", "9")
        let stats = try c.command("INFO", "errorstats")
        XCTAssertEqual(stats.split(separator: "\r\n").dropFirst(2).joined(separator: "\n"),
                       "errorstat_ERR:count=2\nerrorstat_NOPROTO:count=1",
                       "needs the connection's ReplyWriter wired to the server: reply.errorObserver = server.errorStats")
        XCTAssertEqual(try infoField(c, "stats", "total_error_replies"), "3")
        assertReply(try c.command("CONFIG", "RESETSTAT"), "+OK\r\n")
        XCTAssertEqual(try infoField(c, "stats", "total_error_replies"), "0")
        XCTAssertEqual(try infoField(c, "stats", "keyspace_misses"), "0")
    }

    // MARK: COMMAND

    func testCommandInfoLayout() throws {
        let c = try server.client()
        let ping = "*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n"
            + "*2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n"
        assertReply(try c.command("COMMAND", "INFO", "ping", "nosuch"), "*2\r\n" + ping + "$-1\r\n")
        let clientList = "*10\r\n$11\r\nclient|list\r\n:-2\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"
            + ":0\r\n:0\r\n:0\r\n*4\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n+@connection\r\n"
            + "*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n"
        assertReply(try c.command("COMMAND", "INFO", "CLIENT|LIST"), "*1\r\n" + clientList)
        // GET's key spec, from the table's first/last/step and Redis's flags.
        let get = try c.command("COMMAND", "INFO", "get")
        XCTAssertTrue(get.hasSuffix("*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"), get)

        _ = try c.command("HELLO", "3")
        let ping3 = "*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n"
            + "~2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n~0\r\n~0\r\n"
        assertReply(try c.command("COMMAND", "INFO", "ping", "nosuch"), "*2\r\n" + ping3 + "_\r\n")
    }

    func testCommandCountListDocsAndGetKeys() throws {
        let c = try server.client()
        let count = try c.command("COMMAND", "COUNT")
        let all = try c.command("COMMAND")
        XCTAssertTrue(all.hasPrefix("*" + count.dropFirst().dropLast() + "\r\n"), "COMMAND lists COUNT commands")
        let list = try c.command("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|s*")
        XCTAssertEqual(list, "*2\r\n$14\r\nclient|setname\r\n$14\r\nclient|setinfo\r\n")
        XCTAssertTrue(try c.command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection").contains("$4\r\nping\r\n"))
        assertReply(try c.command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"), "*0\r\n")
        assertReply(try c.command("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), "*0\r\n")
        assertReply(try c.command("COMMAND", "LIST", "FILTERBY"), "-ERR syntax error\r\n")
        assertReply(try c.command("COMMAND", "LIST", "FILTERBY", "foo", "x"), "-ERR syntax error\r\n")
        assertReply(try c.command("COMMAND", "DOCS", "ping", "nosuch"),
                    "*2\r\n$4\r\nping\r\n*10\r\n$7\r\nsummary\r\n$15\r\nPing the server\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
                    + "$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$7\r\nmessage\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n*1\r\n+optional\r\n")
        XCTAssertTrue(try c.command("COMMAND", "DOCS", "config").contains("$11\r\nsubcommands\r\n*10\r\n$10\r\nconfig|get\r\n"))

        assertReply(try c.command("COMMAND", "GETKEYS", "get", "a"), "*1\r\n$1\r\na\r\n")
        assertReply(try c.command("COMMAND", "GETKEYS", "mset", "a", "b", "c", "d"), "*2\r\n$1\r\na\r\n$1\r\nc\r\n")
        assertReply(try c.command("COMMAND", "GETKEYS", "nosuch", "a"), "-ERR Invalid command specified\r\n")
        assertReply(try c.command("COMMAND", "GETKEYS", "ping", "x"), "-ERR The command has no key arguments\r\n")
        assertReply(try c.command("COMMAND", "GETKEYS", "get", "a", "b"), "-ERR Invalid number of arguments specified for command\r\n")
        assertReply(try c.command("COMMAND", "GETKEYS", "get"), "-ERR wrong number of arguments for 'command|getkeys' command\r\n")
        assertReply(try c.command("COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "GET"),
                    "*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n")
        assertReply(try c.command("COMMAND", "NOSUCH"), "-ERR unknown subcommand 'NOSUCH'. Try COMMAND HELP.\r\n")
    }

    // MARK: CONFIG

    func testConfigGetAndSet() throws {
        let c = try server.client()
        assertReply(try c.command("CONFIG", "GET", "maxclients"), "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n")
        assertReply(try c.command("CONFIG", "GET", "MAXCLIENTS", "maxcl*s", "nosuch"), "*2\r\n$10\r\nMAXCLIENTS\r\n$5\r\n10000\r\n",
                    "an exact name is echoed as given, and matched once")
        assertReply(try c.command("CONFIG", "SET", "DATABASES", "3"),
                    "-ERR CONFIG SET failed (possibly related to argument 'DATABASES') - can't set immutable config\r\n")
        assertReply(try c.command("CONFIG", "GET"), "-ERR wrong number of arguments for 'config|get' command\r\n")
        assertReply(try c.command("CONFIG", "SET", "hz", "10", "maxclients"), "-ERR syntax error\r\n")
        assertReply(try c.command("CONFIG", "SET", "nosuch", "1"), "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n")
        assertReply(try c.command("CONFIG", "SET", "hz", "x"),
                    "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n")
        assertReply(try c.command("CONFIG", "SET", "hz", "10", "HZ", "11"),
                    "-ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter\r\n")
        assertReply(try c.command("CONFIG", "SET", "databases", "3"),
                    "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n")
        assertReply(try c.command("CONFIG", "SET", "maxclients", "0"),
                    "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n")
        assertReply(try c.command("CONFIG", "SET", "maxmemory", "1x"),
                    "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n")
        assertReply(try c.command("CONFIG", "SET", "save", "100 1 2"),
                    "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n")
        // Atomic: the bad second pair keeps the first from applying.
        assertReply(try c.command("CONFIG", "SET", "maxclients", "50", "appendonly", "maybe"),
                    "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n")
        assertReply(try c.command("CONFIG", "GET", "maxclients"), "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n")
        assertReply(try c.command("CONFIG", "SET", "maxclients", "50", "hz", "100000", "maxmemory", "1k"), "+OK\r\n")
        assertReply(try c.command("CONFIG", "GET", "maxclients", "hz", "maxmemory"),
                    "*6\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n$2\r\nhz\r\n$3\r\n500\r\n$9\r\nmaxmemory\r\n$4\r\n1000\r\n")
        _ = try c.command("HELLO", "3")
        assertReply(try c.command("CONFIG", "GET", "maxclients"), "%1\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n")
        assertReply(try c.command("CONFIG", "REWRITE"), "-ERR The server is running without a config file\r\n")
        assertReply(try c.command("CONFIG", "RESETSTAT", "x"), "-ERR wrong number of arguments for 'config|resetstat' command\r\n")
        let help = try c.command("CONFIG", "HELP")
        XCTAssertTrue(help.hasPrefix("*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"), help)
    }

    func testConfigRewriteWritesTheFile() throws {
        let path = "/tmp/tagcache-rewrite-\(getpid()).conf"
        defer { unlink(path) }
        let original = "# kept comment\nport 0\nhz 20\nhz 30\nloglevel nothing\n"
        XCTAssertTrue(ConfigTestFile.write(path, original))
        server.stop()
        server = nil
        let config = Config()
        try ConfigFile.load(arguments: [path], into: config)
        let s = TagCacheServer(config: config)
        let port = try s.start()
        defer { s.stop(); s.waitUntilStopped() }
        let c = try TestClient(port: port)
        XCTAssertEqual(try infoField(c, "server", "config_file"), path)
        assertReply(try c.command("CONFIG", "SET", "maxclients", "77", "hz", "15"), "+OK\r\n")
        assertReply(try c.command("CONFIG", "REWRITE"), "+OK\r\n")
        XCTAssertEqual(ConfigTestFile.read(path),
                       "# kept comment\nport 0\nhz 15\nloglevel nothing\n# Generated by CONFIG REWRITE\nmaxclients 77\n")
    }

    // MARK: TIME LASTSAVE SAVE SHUTDOWN

    func testTimeLastsaveAndSave() throws {
        let c = try server.client()
        let t = try c.command("TIME")
        let parts = t.split(separator: "\r\n")
        XCTAssertEqual(parts.count, 5, t)
        let secs = Int(parts[2]) ?? 0
        XCTAssertLessThan(abs(secs - Int(time(nil))), 5)
        XCTAssertLessThan(Int(parts[4]) ?? -1, 1_000_000)
        assertReply(try c.command("TIME", "x"), "-ERR wrong number of arguments for 'time' command\r\n")
        let last = try c.command("LASTSAVE")
        XCTAssertLessThan(abs((Int(last.dropFirst().dropLast()) ?? 0) - Int(time(nil))), 5)
        assertReply(try c.command("BGSAVE", "x"), "-ERR syntax error\r\n")
        assertReply(try c.command("SAVE"), "-ERR TagCache keeps no snapshot: persistence is not supported\r\n")
    }

    func testShutdownStopsTheServer() throws {
        let c = try server.client()
        assertReply(try c.command("SHUTDOWN", "foo"), "-ERR syntax error\r\n")
        assertReply(try c.command("SHUTDOWN", "NOSAVE", "SAVE"), "-ERR syntax error\r\n")
        assertReply(try c.command("SHUTDOWN", "ABORT", "NOW"), "-ERR syntax error\r\n")
        assertReply(try c.command("SHUTDOWN", "ABORT"), "-ERR No shutdown in progress.\r\n")
        try c.send("SHUTDOWN", "NOSAVE", "NOW")
        XCTAssertEqual(try c.readUntilClosed(within: 5), [], "no reply: the connection just closes")
        let stopped = DispatchSemaphore(value: 0)
        let s = server.server
        DispatchQueue.global().async { s.waitUntilStopped(); stopped.signal() }
        XCTAssertEqual(stopped.wait(timeout: .now() + 5), .success)
        XCTAssertThrowsError(try server.client(), "nothing listens any more")
        server = nil
    }
}

/// Reads and writes the CONFIG REWRITE test's file (no Foundation in this package).
private enum ConfigTestFile {
    static func write(_ path: String, _ text: String) -> Bool {
        guard let f = fopen(path, "w") else { return false }
        defer { fclose(f) }
        return fputs(text, f) >= 0
    }

    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out = ""
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, Int32(buf.count), f) != nil { out += String(cString: buf) }
        return out
    }
}
