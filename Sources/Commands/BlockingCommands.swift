import CTagCacheSys
import RESP
import Store
import Synchronization

/// A client parked by BLPOP, BRPOP, BLMOVE or BRPOPLPUSH. It holds no thread: it sits in the
/// wait lists of its keys' shards until a push makes one of them ready, its timeout fires, or
/// it disconnects. Whoever flips `finished` first (server, timer, disconnect) owns the outcome.
public final class BlockedClient: Sendable {
    public enum Operation: Sendable {
        case pop(fromFront: Bool)
        case move(destination: [UInt8], fromFront: Bool, toFront: Bool)
    }

    public let db: Int
    public let keys: [[UInt8]]
    public let operation: Operation
    /// Absolute deadline in ms (test clock included), 0 = wait forever.
    public let deadline: Int64
    public let resp3: Bool
    let finished = Atomic<Bool>(false)
    /// Hands the reply to the client's own event loop, which resumes the client.
    let deliver: @Sendable ([UInt8]) -> Void

    init(db: Int, keys: [[UInt8]], operation: Operation, deadline: Int64, resp3: Bool,
         deliver: @escaping @Sendable ([UInt8]) -> Void) {
        self.deliver = deliver
        self.db = db
        self.keys = keys
        self.operation = operation
        self.deadline = deadline
        self.resp3 = resp3
    }

    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Claims the outcome; true for exactly one caller.
    func claim() -> Bool { finished.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }

    /// The reply a timed-out client gets: a null array, as Redis answers a blocked list pop.
    public var timeoutReply: [UInt8] { resp3 ? Array("_\r\n".utf8) : Array("*-1\r\n".utf8) }
}

/// BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, and the serving of blocked clients (Redis's blocking.c).
public enum BlockingCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.blpop, { pop($0, $1, fromFront: true) }),
        CommandSpec(.brpop, { pop($0, $1, fromFront: false) }),
        CommandSpec(.blmove, blmove),
        CommandSpec(.brpoplpush, brpoplpush),
    ]

    /// Redis's getTimeoutFromObjectOrReply (seconds, may be fractional): absolute ms, 0 = forever.
    static func timeout(_ ctx: CommandContext, _ arg: Bytes) -> Int64? {
        guard let seconds = arg.redisLongDouble else {
            ctx.reply.error("ERR timeout is not a float or out of range")
            return nil
        }
        let ms = (seconds * 1000).rounded(.up)
        // Redis 7.0 converts with (long long)ceill(ms): anything outside the Int64 range (infinities
        // included) comes out as LLONG_MIN, i.e. negative.
        guard ms >= 0 && ms < 0x1p63 else {
            ctx.reply.error("ERR timeout is negative")
            return nil
        }
        let t = Int64(ms)
        if t == 0 { return 0 }
        if t > Int64.max - ctx.now {
            ctx.reply.error("ERR timeout is out of range")
            return nil
        }
        return t + ctx.now
    }

    /// True when the client may not block (inside MULTI/EXEC): it gets a timeout answer at once.
    static func mayNotBlock(_ ctx: CommandContext) -> Bool { ctx.holdsShardLocks }

    static func pop(_ ctx: CommandContext, _ args: Arguments, fromFront: Bool) {
        guard let deadline = timeout(ctx, args[args.count - 1]) else { return }
        let keys = (1..<(args.count - 1)).map { args[$0] }
        ctx.withKeys(keys) { opener in
            for key in keys {
                let k = opener.open(key)
                let slot = k.find()
                if slot < 0 { continue }
                if k.entry(slot).kind != .list {
                    ctx.wrongType()
                    return
                }
                if let v = ListCommands.popForWaitingClient(k, fromFront: fromFront) {
                    ctx.reply.array(2)
                    ctx.reply.bulk(key)
                    ctx.reply.bulk(v)
                    return
                }
            }
            if mayNotBlock(ctx) {
                ctx.reply.nullArray()
                return
            }
            block(ctx, keys: keys.map { Array($0) }, operation: .pop(fromFront: fromFront), deadline: deadline)
        }
    }

    static func blmove(_ ctx: CommandContext, _ args: Arguments) {
        guard let from = side(args[3]), let to = side(args[4]) else {
            ctx.syntaxError()
            return
        }
        move(ctx, args[1], args[2], fromFront: from, toFront: to, timeoutArg: args[5])
    }

    static func brpoplpush(_ ctx: CommandContext, _ args: Arguments) {
        move(ctx, args[1], args[2], fromFront: false, toFront: true, timeoutArg: args[3])
    }

    static func side(_ b: Bytes) -> Bool? {
        if b.equalsIgnoringCase("left") { return true }
        if b.equalsIgnoringCase("right") { return false }
        return nil
    }

    static func move(_ ctx: CommandContext, _ source: Bytes, _ destination: Bytes, fromFront: Bool, toFront: Bool,
                     timeoutArg: Bytes) {
        guard let deadline = timeout(ctx, timeoutArg) else { return }
        ctx.withKeys([source, destination]) { opener in
            let k = opener.open(source)
            let slot = k.find()
            if slot >= 0 {
                if k.entry(slot).kind != .list {
                    ctx.wrongType()
                    return
                }
                switch ListCommands.moveForWaitingClient(opener, source: source, destination: destination,
                                                         fromFront: fromFront, toFront: toFront) {
                case let .moved(v):
                    ctx.reply.bulk(v)
                    return
                case .destinationWrongType:
                    ctx.wrongType()
                    return
                case .nothing:
                    break
                }
            }
            if mayNotBlock(ctx) {
                ctx.reply.null()
                return
            }
            block(ctx, keys: [Array(source)],
                  operation: .move(destination: Array(destination), fromFront: fromFront, toFront: toFront),
                  deadline: deadline)
        }
    }

    /// Parks the client on keys (their shards are locked by the caller). The connection sees
    /// ctx.client.blocked, stops running the client's further requests and arms the timeout.
    static func block(_ ctx: CommandContext, keys: [[UInt8]], operation: BlockedClient.Operation, deadline: Int64) {
        let b = BlockedClient(db: ctx.client.db, keys: keys, operation: operation, deadline: deadline,
                              resp3: ctx.reply.resp3, deliver: ctx.client.deliverWhenUnblocked)
        let ks = ctx.keyspace
        for key in keys {
            let i = key.withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) }
            ks.waitLists[i].add(db: b.db, key: key, b) { ($0 as? BlockedClient)?.isFinished ?? true }
        }
        ctx.client.blocked = b
    }

    /// Ends a client's wait without serving it (timeout, disconnect, CLIENT KILL). Returns
    /// true when it was still waiting, i.e. the caller owns its reply.
    public static func cancel(_ b: BlockedClient, keyspace ks: Keyspace) -> Bool {
        if !b.claim() { return false }
        for key in b.keys {
            let i = key.withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) }
            let s = ks.shards[i]
            s.lock()
            ks.waitLists[i].remove(db: b.db, key: key, b)
            s.unlock()
        }
        return true
    }

    /// Serves clients blocked on keys that became ready, oldest first, while the keys hold
    /// elements. Called after each top-level command when the ready signal is up (so a push
    /// inside MULTI serves waiters only after EXEC, as in Redis).
    public static func serveReadyKeys(_ ks: Keyspace) {
        while ks.readySignal.pending.load(ordering: .relaxed) > 0 {
            var progressed = false
            for (i, s) in ks.shards.enumerated() {
                s.lock()
                let ready = ks.waitLists[i].takeReady()
                s.unlock()
                for (db, key) in ready {
                    progressed = true
                    serve(ks, shardIndex: i, db: db, key: key)
                }
            }
            if !progressed { return }
        }
    }

    /// Serves the waiters of one key until it runs out of elements or waiters.
    static func serve(_ ks: Keyspace, shardIndex i: Int, db: Int, key: [UInt8]) {
        let s = ks.shards[i]
        let wl = ks.waitLists[i]
        while true {
            s.lock()
            var queue = wl.waiters(db: db, key: key)
            while let first = queue.first, (first as? BlockedClient)?.isFinished ?? true { queue.removeFirst() }
            wl.setWaiters(db: db, key: key, queue)
            guard let b = queue.first as? BlockedClient else {
                s.unlock()
                return
            }
            switch b.operation {
            case let .pop(fromFront):
                let now = ks.clock.nowMs()
                let done: Bool = key.withUnsafeBufferPointer { kb in
                    let h = ks.hash(kb)
                    let k = KeySlot(shard: s, table: s.table(db), db: db, key: kb, hash: UInt32(truncatingIfNeeded: h), now: now)
                    let slot = k.find()
                    guard slot >= 0, k.entry(slot).kind == .list else { return true }
                    if !b.claim() { return false }
                    wl.remove(db: db, key: key, b)
                    guard let v = ListCommands.popForWaitingClient(k, fromFront: fromFront) else {
                        b.deliver(b.timeoutReply)
                        return true
                    }
                    b.deliver(popReply(key, v, resp3: b.resp3))
                    return false
                }
                s.unlock()
                if done { return }
            case let .move(destination, fromFront, toFront):
                s.unlock()
                if !serveMove(ks, b, source: key, destination: destination, fromFront: fromFront, toFront: toFront) {
                    return
                }
            }
        }
    }

    /// BLMOVE/BRPOPLPUSH: both shards locked in ascending order. Returns false when the source
    /// has nothing to give (stop serving this key).
    static func serveMove(_ ks: Keyspace, _ b: BlockedClient, source: [UInt8], destination: [UInt8],
                          fromFront: Bool, toFront: Bool) -> Bool {
        let a = source.withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) }
        return ks.withShardSet { set in
            set.insert(a)
            destination.withUnsafeBufferPointer { ks.insert($0, into: set) }
            ks.lock(set)
            defer { ks.unlock(set) }
            return serveMoveLocked(ks, b, source: source, destination: destination, sourceShard: a,
                                   fromFront: fromFront, toFront: toFront)
        }
    }

    private static func serveMoveLocked(_ ks: Keyspace, _ b: BlockedClient, source: [UInt8], destination: [UInt8],
                                        sourceShard a: Int, fromFront: Bool, toFront: Bool) -> Bool {
        let now = ks.clock.nowMs()
        return source.withUnsafeBufferPointer { sb in
            destination.withUnsafeBufferPointer { db in
                let opener = KeyOpener(keyspace: ks, db: b.db, now: now)
                let src = opener.open(sb)
                let slot = src.find()
                guard slot >= 0, src.entry(slot).kind == .list else { return false }
                if !b.claim() { return true }
                ks.waitLists[a].remove(db: b.db, key: source, b)
                switch ListCommands.moveForWaitingClient(opener, source: sb, destination: db,
                                                         fromFront: fromFront, toFront: toFront) {
                case let .moved(v):
                    let w = ReplyWriter()
                    w.protocolVersion = b.resp3 ? 3 : 2
                    w.bulk(v)
                    b.deliver(w.out.readableArray())
                case .destinationWrongType:
                    b.deliver(Array("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".utf8))
                case .nothing:
                    b.deliver(b.timeoutReply)
                }
                return true
            }
        }
    }

    static func popReply(_ key: [UInt8], _ v: [UInt8], resp3: Bool) -> [UInt8] {
        let w = ReplyWriter()
        w.protocolVersion = resp3 ? 3 : 2
        w.array(2)
        w.bulk(key)
        w.bulk(v)
        return w.out.readableArray()
    }
}
