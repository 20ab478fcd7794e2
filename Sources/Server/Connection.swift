import CTagCacheSys
import Commands
import Dispatch
import Glibc
import RESP
import Store

/// One client socket, owned by one event loop: reads into its input buffer, runs every complete
/// request of the read, and answers them with one write.
final class Connection {
    /// The smallest read.
    static let readChunk = 16 * 1024

    let fd: Int32
    let input = ByteBuffer(capacity: 16 * 1024)
    let output = ByteBuffer(capacity: 16 * 1024)
    let parser: RequestParser
    let reply: ReplyWriter
    let client: ClientState
    let context: CommandContext
    unowned(unsafe) let loop: EventLoop
    /// EPOLLOUT is armed (a reply could not be written whole).
    var wantsWrite = false
    /// Reading is paused because unsent output is over the backpressure limit.
    var readPaused = false
    var closed = false

    init(fd: Int32, loop: EventLoop, client: ClientState, server: TagCacheServer) {
        self.fd = fd
        self.loop = loop
        self.client = client
        parser = RequestParser(limits: server.protocolLimits)
        reply = ReplyWriter(out: output)
        reply.errorObserver = server.errorStats
        context = CommandContext(keyspace: server.keyspace, reply: reply, client: client, table: server.commands,
                                 server: server, counters: loop.counters)
        context.maxStringLength = server.protocolLimits.maxBulkLength
        let ref = ConnectionRef(self)
        client.deliverWhenUnblocked = { bytes in
            guard let c = ref.connection else { return }
            c.loop.run { ref.connection?.resume(with: bytes) }
        }
    }

    /// Ends a BLPOP-style wait: writes the reply, then runs the requests that queued up meanwhile.
    func resume(with reply: [UInt8]) {
        guard !closed, client.blocked != nil else { return }
        client.blocked = nil
        loop.server.blockedClients.subtract(1, ordering: .relaxed)
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
        let ref = ConnectionRef(self)
        loop.queue.asyncAfter(deadline: .now() + .milliseconds(Int(wait))) {
            guard let c = ref.connection, c.client.blocked === b else { return }
            if BlockingCommands.cancel(b, keyspace: c.loop.server.keyspace) { c.resume(with: b.timeoutReply) }
        }
    }

    /// The socket is readable: one read (more while the buffer fills), then the batch.
    func onReadable() {
        if readPaused || closed { return }
        let server = loop.server
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
        if input.readableCount > server.queryBufferLimit {
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

    /// Runs every complete request in the input buffer (stops when backpressure applies).
    func processInput() {
        let limit = loop.server.outputBackpressure
        let clock = context.keyspace.clock
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
        if input.isEmpty { input.clear(shrinkTo: 256 * 1024) }
    }

    /// Writes pending output; arms EPOLLOUT when the socket cannot take it all.
    func flush() {
        if closed { return }
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
                setWantsWrite(true)
                return
            }
            close()
            return
        }
        output.clear(shrinkTo: 1 << 20)
        if wantsWrite { setWantsWrite(false) }
        if client.closeAfterReply || client.killed {
            close()
            return
        }
        if readPaused {
            readPaused = false
            updateInterest()
            // Requests already buffered were waiting for the output to drain.
            processInput()
            if output.readableCount > 0 { flush() }
        }
    }

    func onWritable() { flush() }

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
        _ = tc_epoll_ctl(loop.epfd, 1, fd, ev)
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
        _ = tc_epoll_ctl(loop.epfd, 2, fd, 0)
        Glibc.close(fd)
    }
}

/// A weak handle on a connection that closures crossing threads may hold.
final class ConnectionRef: @unchecked Sendable {
    weak var connection: Connection?
    init(_ c: Connection) { connection = c }
}
