import CTagCacheSys
import Commands
import Dispatch
import Glibc
import RESP
import Store

/// One client socket, owned by one event loop: reads into its input buffer, runs every complete
/// request of the read, and answers them with one write.
///
/// Its buffers borrow the loop's two blocks for the batch (ByteBuffer.borrow) and own memory only
/// for what outlives it: a partly received request, a reply the socket did not take whole, or
/// a read or reply too large for a block. A connection whose requests and replies fit owns no
/// buffer memory at all, idle or busy; one that owns some keeps it while requests keep coming
/// (no allocation per request), and the loop's sweep frees it once the connection is idle.
final class Connection {
    /// The first allocation of a buffer of its own and the smallest read.
    static let readChunk = 4096
    /// Beyond these sizes a drained buffer is freed at once rather than kept for the next request.
    static let keptInput = 256 * 1024
    static let keptOutput = 1 << 20

    let fd: Int32
    let input = ByteBuffer(deferredCapacity: Connection.readChunk)
    let output = ByteBuffer(deferredCapacity: Connection.readChunk)
    let parser: RequestParser
    let reply: ReplyWriter
    let client: ClientState
    let context: CommandContext
    /// What CLIENT LIST, INFO and the cron read of this connection from other threads.
    let published: PublishedConnection
    unowned(unsafe) let loop: EventLoop
    /// EPOLLOUT is armed (a reply could not be written whole).
    var wantsWrite = false
    /// Reading is paused because unsent output is over the backpressure limit.
    var readPaused = false
    var closed = false
    /// Read from since the loop's last idle sweep (the sweep frees the buffers of the others).
    var recentlyActive = false

    init(fd: Int32, loop: EventLoop, client: ClientState, server: TagCacheServer) {
        self.fd = fd
        self.loop = loop
        self.client = client
        parser = RequestParser(limits: loop.settings.protocolLimits)
        reply = ReplyWriter(out: output)
        reply.errorObserver = server.errorStats
        context = CommandContext(keyspace: server.keyspace, reply: reply, client: client, table: server.commands,
                                 server: server, counters: loop.counters)
        context.maxStringLength = loop.settings.protocolLimits.maxBulkLength
        published = PublishedConnection(client)
        // Found again by descriptor and client id on the loop's own thread, not through a weak
        // reference: a weak reference gives the connection a side table, and every retain of
        // it (several per request) would take Swift's slow path.
        let at = Place(loop: loop, fd: fd, id: client.id)
        client.deliverWhenUnblocked = { bytes in
            at.loop.run { at.connection?.resume(with: bytes) }
        }
        context.serveWhileBusy = { at.loop.serveWhileBusy(running: at) }
    }

    /// New settings from CONFIG SET: a client already connected gets the new limits, as in Redis.
    func apply(_ settings: ServerSettings) {
        parser.limits = settings.protocolLimits
        context.maxStringLength = settings.protocolLimits.maxBulkLength
    }

    /// Ends a BLPOP-style wait: writes the reply, then runs the requests that queued up meanwhile.
    func resume(with reply: [UInt8]) {
        guard !closed, client.blocked != nil else { return }
        client.blocked = nil
        // Redis counts the reply written as an interaction: the idle timeout starts again.
        client.lastInteractionMs = loop.server.keyspace.clock.nowMs()
        loop.server.blockedClients.subtract(1, ordering: .relaxed)
        recentlyActive = true
        borrowOutputBlock()
        output.append(reply)
        processInput()
        flush()
    }

    /// A command parked the client: arm its timeout on this loop's queue.
    func didBlock(_ b: BlockedClient) {
        let server = loop.server
        server.blockedClients.add(1, ordering: .relaxed)
        guard b.deadline > 0 else { return }
        let wait = max(0, b.deadline - server.keyspace.clock.nowMs())
        let at = Place(loop: loop, fd: fd, id: client.id)
        loop.queue.asyncAfter(deadline: .now() + .milliseconds(Int(wait))) {
            guard let c = at.connection, c.client.blocked === b else { return }
            if BlockingCommands.cancel(b, keyspace: c.loop.server.keyspace) { c.resume(with: b.timeoutReply) }
        }
    }

    /// The socket is readable: one read (more while the buffer fills), then the batch.
    func onReadable() {
        if readPaused || closed { return }
        let server = loop.server
        // Read into the loop's block unless a partial request already has storage of its own;
        // whatever is left unparsed moves to the connection's own storage at the end.
        // (Not while a busy script's batch holds the loop's blocks: see serveWhileBusy.)
        if !loop.blocksInUse { input.borrow(loop.inputBlock, count: EventLoop.blockSize) }
        defer { input.giveBack() }
        var total = 0
        while true {
            input.reserve(readSize())
            let n = Glibc.read(fd, input.writePointer, input.writableCount)
            if n > 0 {
                input.writeIndex += n
                total += n
                if input.writableCount > 0 || total >= (1 << 20) { break }
                continue
            }
            if n == 0 {
                server.log.verbose(server.clientClosedLogLine(self))
                close()
                return
            }
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK { break }
            if e == EINTR { continue }
            close()
            return
        }
        if total == 0 { return }
        loop.counters.add(.netInputBytes, total)
        client.lastInteractionMs = loop.nowMs
        recentlyActive = true
        if input.readableCount > loop.settings.queryBufferLimit {
            server.log.warning("Closing client that reached max query buffer length: id=\(client.id) addr=\(client.address) qbuf=\(input.readableCount)")
            close()
            return
        }
        processInput()
        flush()
    }

    /// Room for the next read: `readChunk`, or for a bulk whose length was announced up to what
    /// it still needs but no more than the buffer already holds. The buffer at most doubles per
    /// read, so memory follows the bytes that arrive, not the length a client claims.
    @inline(__always)
    private func readSize() -> Int {
        let still = parser.bytesStillNeeded(input)
        if still <= Connection.readChunk { return Connection.readChunk }
        return min(still, max(input.readableCount, Connection.readChunk))
    }

    /// Replies go to the loop's block unless unsent output already has storage of its own.
    /// Every path that writes replies ends in flush(), which gives the block back.
    @inline(__always)
    private func borrowOutputBlock() {
        if !loop.blocksInUse { output.borrow(loop.outputBlock, count: EventLoop.blockSize) }
    }

    /// Runs every complete request in the input buffer (stops when backpressure applies).
    func processInput() {
        borrowOutputBlock()
        context.batching = true
        defer {
            context.batching = false
            context.endBatch()
        }
        let limit = loop.settings.outputBackpressure
        let keyspace = context.keyspace
        let clock = keyspace.clock
        context.now = clock.nowMs()
        var sinceClock = 0
        while !client.closeAfterReply && client.blocked == nil {
            // One clock reading per 32 pipelined requests keeps TTLs exact to the millisecond
            // without a clock_gettime per command.
            sinceClock += 1
            if sinceClock == 32 {
                sinceClock = 0
                context.now = clock.nowMs()
            }
            if output.readableCount > limit {
                pauseReading()
                break
            }
            // Redis's authRequired(): a client owes a password when one is set and it has not
            // authenticated; the authenticated majority pays one load.
            switch parser.next(input, authenticated: client.authenticated || context.server.requirePass == nil) {
            case let .command(args):
                // The next pipelined request's key: its home slot loads while this one runs.
                if input.readableCount > 0, let next = RequestParser.peekSecondArgument(input) {
                    keyspace.prefetch(next, db: client.db)
                }
                Dispatcher.execute(context, args)
                if let b = client.blocked { didBlock(b) }
            case .needMore:
                resetInputIfDrained()
                return
            case let .protocolError(message):
                reply.error("ERR Protocol error: \(message)")
                loop.server.log.verbose("Protocol error (\(message)) from client: id=\(client.id) addr=\(client.address)")
                client.closeAfterReply = true
            }
        }
        resetInputIfDrained()
    }

    /// Rewinds an emptied input buffer, giving back memory a large request made it take.
    @inline(__always)
    func resetInputIfDrained() {
        if input.isEmpty { input.clear(shrinkTo: Connection.keptInput) }
    }

    /// The loop's idle sweep: a connection not read from since the previous sweep gives back its
    /// drained buffers and parser state, as Redis's clientsCron frees idle clients' query buffers.
    /// Returns the bytes given back.
    func releaseIfIdle() -> Int {
        if recentlyActive {
            recentlyActive = false
            return 0
        }
        let freed = ownedBufferBytes
        if input.isEmpty {
            input.release()
            parser.releaseMemory()
        }
        if output.isEmpty && !wantsWrite { output.release() }
        publish()
        return freed - ownedBufferBytes
    }

    /// Buffer memory the connection owns (not counting the loop's blocks).
    var ownedBufferBytes: Int {
        (input.isBorrowed ? 0 : input.capacity) + (output.isBorrowed ? 0 : output.capacity)
    }

    /// Writes pending output; arms EPOLLOUT when the socket cannot take it all. Hands the
    /// loop's output block back on every way out (close() drops it).
    func flush() {
        if closed { return }
        defer { publish() }
        while output.readableCount > 0 {
            let n = send(fd, output.readPointer, output.readableCount, Int32(MSG_NOSIGNAL))
            if n > 0 {
                output.readIndex += n
                loop.counters.add(.netOutputBytes, n)
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                output.giveBack()
                setWantsWrite(true)
                return
            }
            close()
            return
        }
        output.clear(shrinkTo: Connection.keptOutput)
        output.giveBack()
        if wantsWrite { setWantsWrite(false) }
        if client.closeAfterReply || client.killed {
            close()
            return
        }
        if readPaused {
            readPaused = false
            updateInterest()
            // Requests already buffered were waiting for the output to drain; flush even when
            // they wrote nothing, to give the output block back.
            processInput()
            flush()
        }
    }

    func onWritable() {
        // Writing a reply the client is slow to take counts as an interaction, as in Redis.
        client.lastInteractionMs = loop.nowMs
        flush()
    }

    func pauseReading() {
        if readPaused { return }
        readPaused = true
        updateInterest()
    }

    func setWantsWrite(_ w: Bool) {
        wantsWrite = w
        updateInterest()
    }

    func updateInterest() {
        var ev: UInt32 = 0
        if !readPaused { ev |= UInt32(TC_EPOLLIN) }
        if wantsWrite { ev |= UInt32(TC_EPOLLOUT) }
        _ = tc_epoll_ctl(loop.epfd, TC_EPOLL_MODIFY, fd, ev)
    }

    func close() {
        if closed { return }
        closed = true
        TransactionCommands.unwatchAll(context)
        if let b = client.blocked {
            client.blocked = nil
            loop.server.blockedClients.subtract(1, ordering: .relaxed)
            _ = BlockingCommands.cancel(b, keyspace: loop.server.keyspace)
        }
        // Leave the registry first: after close(2) the descriptor number can be reused at once.
        loop.removed(self)
        _ = tc_epoll_ctl(loop.epfd, TC_EPOLL_DELETE, fd, 0)
        Glibc.close(fd)
        // Also gives back a loop block borrowed for the batch this close interrupted.
        input.discard()
        output.discard()
    }
}

/// Where a connection lives, for closures that cross threads (a blocked client's wake-up from
/// another loop, its timeout): read on the loop's queue, it finds the connection if it is still
/// open, and not a later one that reused the descriptor.
// @unchecked Sendable: lets only; the loop outlives its connections, and `connection` is read only on the loop's queue.
struct Place: @unchecked Sendable {
    unowned(unsafe) let loop: EventLoop
    let fd: Int32
    let id: Int

    /// The connection, if still open (loop thread only).
    var connection: Connection? {
        guard let c = loop.connection(fd: fd), c.client.id == id, !c.closed else { return nil }
        return c
    }
}
