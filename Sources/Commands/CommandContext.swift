import RESP
import Store

/// Everything a handler works with: the store, the client's state, its reply buffer, the server.
/// One per connection, reused for every command.
public final class CommandContext {
    public let keyspace: Keyspace
    public let reply: ReplyWriter
    public let client: ClientState
    public let table: CommandTable
    public unowned(unsafe) let server: ServerControl
    public let counters: LoopCounters
    /// Time of the current command in ms (one reading per command, as Redis does).
    public var now: Int64 = 0
    /// True while EXEC holds the shard locks its commands need: handlers must not lock again
    /// (and blocking commands answer at once, as inside Redis's MULTI).
    public var holdsShardLocks = false
    /// True while EXEC holds every shard lock (a queued command without declared keys, such as
    /// DBSIZE or FLUSHALL, may walk the whole keyspace).
    public var holdsAllShards = false
    /// The command being executed.
    public var current: CommandSpec?
    /// proto-max-bulk-len: the longest string APPEND/SETRANGE may build.
    public var maxStringLength = 512 * 1024 * 1024
    /// Serves the loop's other clients while a script run by this client is past
    /// busy-reply-threshold (Redis's processEventsWhileBlocked); set by the connection.
    public var serveWhileBusy: (() -> Void)?

    public init(keyspace: Keyspace, reply: ReplyWriter, client: ClientState, table: CommandTable,
                server: ServerControl, counters: LoopCounters) {
        self.keyspace = keyspace
        self.reply = reply
        self.client = client
        self.table = table
        self.server = server
        self.counters = counters
    }

    @inline(__always) public func lock(_ s: Shard) { if !holdsShardLocks { s.lock() } }
    @inline(__always) public func unlock(_ s: Shard) { if !holdsShardLocks { s.unlock() } }

    /// Runs body with the key's shard locked and the key's table of the selected database.
    @inline(__always)
    public func withKey<R>(_ key: Bytes, _ body: (KeySlot) -> R) -> R {
        let h = keyspace.hash(key)
        let shard = keyspace.shards[keyspace.shardIndex(h)]
        lock(shard)
        defer { unlock(shard) }
        return body(KeySlot(shard: shard, table: shard.table(client.db), db: client.db, key: key,
                            hash: UInt32(truncatingIfNeeded: h), now: now, readCounters: counters))
    }

    /// Locks the shards of all keys in ascending order, runs body, unlocks. body gets a way to
    /// open any key (of any listed database) while the locks are held.
    @inline(__always)
    public func withKeys<R>(_ keys: [Bytes], _ body: (KeyOpener) -> R) -> R {
        withKeys(count: keys.count, { keys[$0] }, body)
    }

    /// withKeys over args[first], args[first + step], ... (MSET's keys, DEL's): no key array.
    @inline(__always)
    public func withKeys<R>(_ args: Arguments, from first: Int, step: Int = 1, _ body: (KeyOpener) -> R) -> R {
        withKeys(count: (args.count - first + step - 1) / step, { args[first + $0 * step] }, body)
    }

    /// The keys are key(0..<count); their shards go into a ShardSet on the stack.
    @inline(__always)
    public func withKeys<R>(count: Int, _ key: (Int) -> Bytes, _ body: (KeyOpener) -> R) -> R {
        if holdsShardLocks { return body(KeyOpener(self)) }
        let ks = keyspace
        return ks.withShardSet { set in
            let db = client.db
            for i in 0..<count { ks.insert(key(i), into: set, prefetchIn: db) }
            ks.lock(set)
            defer { ks.unlock(set) }
            return body(KeyOpener(self))
        }
    }

    /// Set by a connection while it runs one read's pipelined requests: a script then keeps the
    /// lock on every shard it takes until endBatch, so sixteen pipelined EVALSHAs lock and
    /// unlock the 64 shards once, not sixteen times (128 mutex operations were most of a small
    /// script's cost). Holding longer is only ever safer; the locks are recursive, so the
    /// batch's other commands lock as usual.
    public var batching = false
    private var batchHoldsAllShards = false

    /// Runs a script's body with every shard locked (see `batching`).
    public func withScriptShards<R>(_ body: () -> R) -> R {
        if holdsAllShards || batchHoldsAllShards { return body() }
        if !batching || holdsShardLocks { return withAllShards(body) }
        keyspace.lockAll()
        batchHoldsAllShards = true
        return body()
    }

    /// The batch is over: gives back the shards a script kept.
    @inline(__always)
    public func endBatch() {
        if batchHoldsAllShards {
            batchHoldsAllShards = false
            keyspace.unlockAll()
        }
    }

    /// Locks all shards (unless EXEC already holds them) for whole-keyspace commands.
    public func withAllShards<R>(_ body: () -> R) -> R {
        if holdsAllShards { return body() }
        // EXEC holding only its keys' shards never runs a whole-keyspace command (such
        // commands declare no keys, and a transaction with one takes every shard).
        assert(!holdsShardLocks, "a whole-keyspace command inside EXEC that holds only some shards")
        keyspace.lockAll()
        defer { keyspace.unlockAll() }
        return body()
    }

    // MARK: errors shared by many commands

    public func wrongType() { reply.error("WRONGTYPE Operation against a key holding the wrong kind of value") }
    public func syntaxError() { reply.error("ERR syntax error") }
    public func notInteger() { reply.error("ERR value is not an integer or out of range") }
    public func notFloat() { reply.error("ERR value is not a valid float") }
    public func invalidExpireTime() {
        reply.error("ERR invalid expire time in '\(current?.fullName ?? "")' command")
    }
    public func wrongArity() {
        reply.error("ERR wrong number of arguments for '\(current?.fullName ?? "")' command")
    }
}

/// Opens keys while `withKeys` holds their shards' locks.
public struct KeyOpener {
    let keyspace: Keyspace
    let db: Int
    let now: Int64
    /// Where reads are counted per key prefix (nil outside a command). Unretained: the
    /// context that made the opener holds it.
    unowned(unsafe) let readCounters: LoopCounters?

    init(_ ctx: CommandContext) {
        keyspace = ctx.keyspace
        db = ctx.client.db
        now = ctx.now
        readCounters = ctx.counters
    }

    /// An opener for work outside a command (serving blocked clients).
    init(keyspace: Keyspace, db: Int, now: Int64) {
        self.keyspace = keyspace
        self.db = db
        self.now = now
        readCounters = nil
    }

    /// The slot accessor for key in db (default: the client's database).
    @inline(__always)
    public func open(_ key: Bytes, db: Int? = nil) -> KeySlot {
        let ks = keyspace
        let h = ks.hash(key)
        let shard = ks.shards[ks.shardIndex(h)]
        let d = db ?? self.db
        return KeySlot(shard: shard, table: shard.table(d), db: d, key: key,
                       hash: UInt32(truncatingIfNeeded: h), now: now, readCounters: readCounters)
    }
}

/// One key's place in its (locked) shard: find, read, write, delete.
public struct KeySlot {
    public let shard: Shard
    public let table: Table
    public let db: Int
    public let key: Bytes
    public let hash: UInt32
    public let now: Int64
    /// The command's loop counters, told of every findForRead (INFO keyprefixes); nil outside
    /// a command. Unretained (no reference counting per key): the command's context holds them.
    public unowned(unsafe) var readCounters: LoopCounters? = nil

    /// The live entry's slot (expired keys are removed here), or -1. Not counted in stats.
    @inline(__always) public func find() -> Int { shard.liveSlot(table, key, hash: hash, now: now, db: db) }

    /// Like find, counting keyspace_hits / keyspace_misses as Redis's lookupKeyRead does.
    /// `touch: false` leaves the key's access record alone (OBJECT, TYPE, TTL, EXISTS: LOOKUP_NOTOUCH).
    @inline(__always) public func findForRead(touch: Bool = true) -> Int {
        let s = shard.liveSlot(table, key, hash: hash, now: now, db: db, touch: touch)
        if s >= 0 { shard.stats.keyspaceHits += 1 } else { shard.stats.keyspaceMisses += 1 }
        readCounters?.keyRead(key, hit: s >= 0)
        return s
    }

    @inline(__always) public func entry(_ slot: Int) -> Entry { table.entry(at: slot) }

    /// Stores a string value, replacing whatever was there. The old value's tags go with it
    /// unless `keepTags` (the paths where Redis keeps the TTL: SET KEEPTTL, INCRBYFLOAT).
    @inline(__always)
    public func setString(_ value: Bytes, deadline: Int64, at slot: Int, keepTags: Bool = false) {
        let e = Entry.makeString(key: key, hash: hash, value: value, deadline: deadline)
        if slot >= 0 {
            let old = table.entry(at: slot)
            if keepTags && old.hasTags { e.hasTags = true }
            // A new value under the same key keeps the key's access history (its lookup just
            // recorded this access).
            e.inheritAccess(from: old)
            table.replace(at: slot, with: e)
        } else {
            shard.stampNew(e, now: now)
            table.insert(e)
        }
        shard.keyModified(db: db, key: key)
    }

    /// Stores an entry copied from another key (RENAME, COPY, MOVE) with that key's tags: the
    /// tags this key had before are dropped, `tags` attached.
    public func putRetagged(_ e: Entry, at slot: Int, tags: [[UInt8]]) {
        e.hasTags = false
        put(e, at: slot, keepAccess: true)
        if tags.isEmpty { return }
        let s = table.find(key, hash: hash)
        for t in tags { t.withUnsafeBufferPointer { _ = table.addTag($0, at: s) } }
    }

    /// The key's tag names (the entry at slot).
    public func tagNames(at slot: Int) -> [[UInt8]] { table.tagNames(at: slot) }

    /// Stores an entry built by the caller (already holding this key). A new entry gets its
    /// first access record unless `keepAccess` (a key moved by RENAME, COPY, MOVE keeps its own,
    /// as the object does in Redis). An aggregate is measured again at unlock (the caller may
    /// still be filling it).
    public func put(_ e: Entry, at slot: Int, keepAccess: Bool = false) {
        if !keepAccess { shard.stampNew(e, now: now) }
        if e.kind != .string { shard.willWrite(e.object) }
        if slot >= 0 { table.replace(at: slot, with: e) } else { table.insert(e) }
        shard.keyModified(db: db, key: key)
        // A list appearing under a key (RENAME, COPY, MOVE, a new list) may serve clients
        // blocked on it, as Redis's dbAdd signals.
        if e.kind == .list { shard.waitList.signalReady(db: db, key: key) }
    }

    /// Deletes the live entry at slot.
    public func delete(_ slot: Int) {
        table.remove(at: slot)
        shard.keyModified(db: db, key: key)
    }

    /// Changes the deadline of the entry at slot.
    public func setDeadline(_ deadline: Int64, at slot: Int) {
        let e = table.entry(at: slot)
        table.willUpdate(e)
        e.deadline = deadline
        table.didUpdate(e, at: slot)
        shard.keyModified(db: db, key: key)
    }

    /// Grows or shrinks a string value in place (realloc), returning the entry.
    public func resizeString(at slot: Int, to length: Int) -> Entry {
        let e = table.entry(at: slot)
        table.willUpdate(e)
        let n = e.resizedString(to: length)
        table.didUpdate(n, at: slot)
        shard.keyModified(db: db, key: key)
        return n
    }
}
