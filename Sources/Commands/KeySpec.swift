import RESP
import Store

/// One key specification of COMMAND INFO: where a command's keys start and how to find them.
struct KeySpec {
    enum Begin { case index(Int), keyword(String, startFrom: Int), unknown }
    enum Find { case range(lastKey: Int, keyStep: Int, limit: Int), keyNum(index: Int, firstKey: Int, keyStep: Int), unknown }
    var flags: [String]
    var begin: Begin
    var find: Find
    var notes: String?

    /// Parses "FLAG,FLAG@<begin>:<find>[#notes]": begin `i<index>`, `k<keyword>,<startfrom>` or
    /// `u`; find `r<lastkey>,<keystep>,<limit>`, `n<keynumidx>,<firstkey>,<keystep>` or `u`.
    init?(_ text: Substring) {
        var body = text
        if let hash = text.firstIndex(of: "#") {
            notes = String(text[text.index(after: hash)...])
            body = text[..<hash]
        }
        let at = body.split(separator: "@", maxSplits: 1)
        guard at.count == 2 else { return nil }
        flags = at[0].split(separator: ",").map(String.init)
        let parts = at[1].split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let b = parts[0].first, let f = parts[1].first else { return nil }
        let bArgs = parts[0].dropFirst().split(separator: ",")
        let fArgs = parts[1].dropFirst().split(separator: ",").compactMap { Int($0) }
        switch b {
        case "i": begin = .index(Int(bArgs.first ?? "") ?? 0)
        case "k": begin = .keyword(String(bArgs.first ?? ""), startFrom: Int(bArgs.last ?? "") ?? 1)
        default: begin = .unknown
        }
        switch f {
        case "r" where fArgs.count == 3: find = .range(lastKey: fArgs[0], keyStep: fArgs[1], limit: fArgs[2])
        case "n" where fArgs.count == 3: find = .keyNum(index: fArgs[0], firstKey: fArgs[1], keyStep: fArgs[2])
        default: find = .unknown
        }
    }

    init(flags: [String], begin: Begin, find: Find) {
        self.flags = flags
        self.begin = begin
        self.find = find
    }

    /// Redis 7's key specs of the commands TagCache shares with it (from `COMMAND INFO` of
    /// redis-server 7), used because the table's first/last/step do not carry access flags.
    static let redisKeySpecs: [String: String] = [
        "append": "RW,insert@i1:r0,1,0",
        "blmove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "blmpop": "RW,access,delete@i2:n0,1,1",
        "blpop": "RW,access,delete@i1:r-2,1,0",
        "brpop": "RW,access,delete@i1:r-2,1,0",
        "brpoplpush": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "copy": "RO,access@i1:r0,1,0;OW,update@i2:r0,1,0",
        "decr": "RW,access,update@i1:r0,1,0",
        "decrby": "RW,access,update@i1:r0,1,0",
        "del": "RM,delete@i1:r-1,1,0",
        "dump": "RO,access@i1:r0,1,0",
        "exists": "RO@i1:r-1,1,0",
        "expire": "RW,update@i1:r0,1,0",
        "expireat": "RW,update@i1:r0,1,0",
        "expiretime": "RO,access@i1:r0,1,0",
        "get": "RO,access@i1:r0,1,0",
        "getdel": "RW,access,delete@i1:r0,1,0",
        "getex": "RW,access,update@i1:r0,1,0#RW and UPDATE because it changes the TTL",
        "getrange": "RO,access@i1:r0,1,0",
        "getset": "RW,access,update@i1:r0,1,0",
        "hdel": "RW,delete@i1:r0,1,0",
        "hexists": "RO@i1:r0,1,0",
        "hget": "RO,access@i1:r0,1,0",
        "hgetall": "RO,access@i1:r0,1,0",
        "hincrby": "RW,access,update@i1:r0,1,0",
        "hincrbyfloat": "RW,access,update@i1:r0,1,0",
        "hkeys": "RO,access@i1:r0,1,0",
        "hlen": "RO@i1:r0,1,0",
        "hmget": "RO,access@i1:r0,1,0",
        "hmset": "RW,update@i1:r0,1,0",
        "hrandfield": "RO,access@i1:r0,1,0",
        "hscan": "RO,access@i1:r0,1,0",
        "hset": "RW,update@i1:r0,1,0",
        "hsetnx": "RW,insert@i1:r0,1,0",
        "hstrlen": "RO@i1:r0,1,0",
        "hvals": "RO,access@i1:r0,1,0",
        "incr": "RW,access,update@i1:r0,1,0",
        "incrby": "RW,access,update@i1:r0,1,0",
        "incrbyfloat": "RW,access,update@i1:r0,1,0",
        "lcs": "RO,access@i1:r1,1,0",
        "lindex": "RO,access@i1:r0,1,0",
        "linsert": "RW,insert@i1:r0,1,0",
        "llen": "RO@i1:r0,1,0",
        "lmove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "lmpop": "RW,access,delete@i1:n0,1,1",
        "lpop": "RW,access,delete@i1:r0,1,0",
        "lpos": "RO,access@i1:r0,1,0",
        "lpush": "RW,insert@i1:r0,1,0",
        "lpushx": "RW,insert@i1:r0,1,0",
        "lrange": "RO,access@i1:r0,1,0",
        "lrem": "RW,delete@i1:r0,1,0",
        "lset": "RW,update@i1:r0,1,0",
        "ltrim": "RW,delete@i1:r0,1,0",
        "memory|usage": "RO@i2:r0,1,0",
        "mget": "RO,access@i1:r-1,1,0",
        "migrate": "RW,access,delete@i3:r0,1,0;RW,access,delete,incomplete@kKEYS,-2:r-1,1,0",
        "move": "RW,access,update@i1:r0,1,0",
        "mset": "OW,update@i1:r-1,2,0",
        "msetnx": "OW,insert@i1:r-1,2,0",
        "object|encoding": "RO@i2:r0,1,0",
        "object|freq": "RO@i2:r0,1,0",
        "object|idletime": "RO@i2:r0,1,0",
        "object|refcount": "RO@i2:r0,1,0",
        "persist": "RW,update@i1:r0,1,0",
        "pexpire": "RW,update@i1:r0,1,0",
        "pexpireat": "RW,update@i1:r0,1,0",
        "pexpiretime": "RO,access@i1:r0,1,0",
        "psetex": "OW,update@i1:r0,1,0",
        "pttl": "RO,access@i1:r0,1,0",
        "rename": "RW,access,delete@i1:r0,1,0;OW,update@i2:r0,1,0",
        "renamenx": "RW,access,delete@i1:r0,1,0;OW,insert@i2:r0,1,0",
        "restore": "OW,update@i1:r0,1,0",
        "restore-asking": "OW,update@i1:r0,1,0",
        "rpop": "RW,access,delete@i1:r0,1,0",
        "rpoplpush": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "rpush": "RW,insert@i1:r0,1,0",
        "rpushx": "RW,insert@i1:r0,1,0",
        "sadd": "RW,insert@i1:r0,1,0",
        "scard": "RO@i1:r0,1,0",
        "sdiff": "RO,access@i1:r-1,1,0",
        "sdiffstore": "OW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "set": "RW,access,update,variable_flags@i1:r0,1,0#RW and ACCESS due to the optional `GET` argument",
        "setex": "OW,update@i1:r0,1,0",
        "setnx": "OW,insert@i1:r0,1,0",
        "setrange": "RW,update@i1:r0,1,0",
        "sinter": "RO,access@i1:r-1,1,0",
        "sintercard": "RO,access@i1:n0,1,1",
        "sinterstore": "RW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "sismember": "RO@i1:r0,1,0",
        "smembers": "RO,access@i1:r0,1,0",
        "smismember": "RO,access@i1:r0,1,0",
        "smove": "RW,access,delete@i1:r0,1,0;RW,insert@i2:r0,1,0",
        "sort": "RO,access@i1:r0,1,0;RO,access@u:u#For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort;OW,update@u:u#For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
        "sort_ro": "RO,access@i1:r0,1,0;RO,access@u:u#For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
        "spop": "RW,access,delete@i1:r0,1,0",
        "srandmember": "RO,access@i1:r0,1,0",
        "srem": "RW,delete@i1:r0,1,0",
        "sscan": "RO,access@i1:r0,1,0",
        "strlen": "RO@i1:r0,1,0",
        "substr": "RO,access@i1:r0,1,0",
        "sunion": "RO,access@i1:r-1,1,0",
        "sunionstore": "OW,update@i1:r0,1,0;RO,access@i2:r-1,1,0",
        "touch": "RO@i1:r-1,1,0",
        "ttl": "RO,access@i1:r0,1,0",
        "type": "RO@i1:r0,1,0",
        "unlink": "RM,delete@i1:r-1,1,0",
        "watch": "RO@i1:r-1,1,0",
    ]
}
