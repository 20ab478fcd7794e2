import CTagCacheSys
import Commands
import Dispatch
import Glibc
import Store

/// One event loop: an epoll set holding its connections, watched by a single Dispatch read
/// source on a serial queue. The source's handler drains ready connections and, while traffic
/// flows, keeps waiting in epoll_wait for up to `spinMicros` before handing the thread back to
/// Dispatch: a hand-back costs ~7.5 syscalls, a per-connection Dispatch source ~3x Redis's
/// syscalls per request (measured), so Dispatch wakes the loop but stays off the request path.
// @unchecked Sendable: connections, events, nowMs and settings are touched only on `queue`; pending and tasks under `pendingLock`.
final class EventLoop: @unchecked Sendable {
    let index: Int
    let epfd: Int32
    let wakeFd: Int32
    let queue: DispatchQueue
    unowned let server: TagCacheServer
    let counters: LoopCounters
    private var source: DispatchSourceRead?
    /// Heap given back by closed connections and idle buffers since the last sweep.
    private var releasedBytes = 0
    /// Connections by file descriptor (touched only on this loop's queue).
    private var connections: [Connection?] = []
    private let events = UnsafeMutablePointer<tc_event>.allocate(capacity: 256)
    /// Accepted sockets handed over by the listener, registered on the next wake-up.
    private var pending: [(Int32, ClientState)] = []
    private let pendingLock = ShardLock()
    /// Work other threads ask this loop to run (CLIENT KILL of one of ours, shutdown).
    private var tasks: [() -> Void] = []
    /// Cached wall-clock ms of the current batch.
    var nowMs: Int64 = 0
    /// The settings this loop's connections read, refreshed before each batch when CONFIG SET
    /// published newer ones (loop thread only).
    private(set) var settings: ServerSettings
    private var settingsGeneration: Int
    /// The server's cell, held directly: reaching it through `server` (unowned) would cost a
    /// reference-count check per batch.
    private let settingsCell: SettingsCell
    /// The blocks a connection's input and output borrow while it is served (Connection), the
    /// 16 KB in which Redis reads (PROTO_IOBUF_LEN) and buffers replies (PROTO_REPLY_CHUNK_BYTES).
    static let blockSize = 16 * 1024
    let inputBlock = UnsafeMutablePointer<UInt8>.allocate(capacity: EventLoop.blockSize)
    let outputBlock = UnsafeMutablePointer<UInt8>.allocate(capacity: EventLoop.blockSize)
    let spinMicros: Int64 = 1000

    init(index: Int, server: TagCacheServer, commandSlots: Int) {
        self.index = index
        self.server = server
        epfd = tc_epoll_create()
        wakeFd = tc_eventfd()
        queue = DispatchQueue(label: "tagcache.loop.\(index)")
        counters = LoopCounters(commandSlots: commandSlots)
        settingsCell = server.settings
        settingsGeneration = settingsCell.generation
        settings = settingsCell.value
        _ = tc_epoll_ctl(epfd, TC_EPOLL_ADD, wakeFd, UInt32(TC_EPOLLIN))
    }

    deinit {
        events.deallocate()
        busyEvents.deallocate()
        inputBlock.deallocate()
        outputBlock.deallocate()
        if !started {
            Glibc.close(epfd)
            Glibc.close(wakeFd)
        }
    }

    /// Once started, the descriptors are closed by the source's cancel handler: Dispatch may
    /// watch the epoll descriptor until then, and a number it still watches that is reused by
    /// the next server in the process (tests start one per test) loses that server's wake-ups.
    private var started = false

    func start() {
        let s = DispatchSource.makeReadSource(fileDescriptor: epfd, queue: queue)
        s.setEventHandler { [unowned self] in self.drain() }
        let ep = epfd, wake = wakeFd
        s.setCancelHandler {
            Glibc.close(ep)
            Glibc.close(wake)
        }
        source = s
        started = true
        s.resume()
    }

    func stop() {
        source?.cancel()
        source = nil
    }

    /// Hands an accepted socket to this loop (called from the listener's queue).
    func adopt(fd: Int32, client: ClientState) {
        pendingLock.lock()
        pending.append((fd, client))
        pendingLock.unlock()
        tc_eventfd_signal(wakeFd)
    }

    /// Runs body on this loop's thread at its next wake-up.
    func run(_ body: @escaping () -> Void) {
        pendingLock.lock()
        tasks.append(body)
        pendingLock.unlock()
        tc_eventfd_signal(wakeFd)
    }

    /// True while a script that runs past busy-reply-threshold lets the loop serve its other
    /// clients (serveWhileBusy): the running batch has the loop's input and output blocks, so
    /// connections read and reply into buffers of their own meanwhile.
    private(set) var blocksInUse = false
    private let busyEvents = UnsafeMutablePointer<tc_event>.allocate(capacity: 64)

    /// Redis's processEventsWhileBlocked, called from a busy script's hook on this loop's thread
    /// (which holds every shard, whose locks are recursive): reads and answers the other
    /// clients once, without waiting. Their commands get -BUSY but for those flagged
    /// allow-busy (SCRIPT KILL, SHUTDOWN NOSAVE, MULTI, WATCH...), which run between two of the
    /// script's hooks as they would between two of Redis's. The script's own client is not
    /// read (Redis protects it). New connections are served; other threads' tasks (waking a
    /// blocked client, shutting down) wait for the script.
    func serveWhileBusy(running: Place) {
        if blocksInUse { return }
        blocksInUse = true
        defer { blocksInUse = false }
        let n = Int(tc_epoll_wait(epfd, busyEvents, 64, 0))
        for i in 0..<max(n, 0) {
            let ev = busyEvents[i]
            let fd = ev.fd
            if fd == wakeFd {
                adoptPendingWhileBusy()
                continue
            }
            if fd == running.fd { continue }
            guard Int(fd) < connections.count, let c = connections[Int(fd)] else { continue }
            if ev.events & UInt32(TC_EPOLLOUT) != 0 { c.onWritable() }
            if c.closed { continue }
            if ev.events & UInt32(TC_EPOLLIN) != 0 {
                c.onReadable()
            } else if ev.events & UInt32(TC_EPOLLHUP | TC_EPOLLERR) != 0 {
                c.close()
            }
        }
    }

    private func drain() {
        var timeout: Int32 = 0
        var idleSince: Int64 = 0
        while true {
            let n = Int(tc_epoll_wait(epfd, events, 256, timeout))
            if n <= 0 {
                if n < 0 { return }
                // Nothing ready: keep the thread a little while traffic flows, then hand it back.
                let now = monotonicUs()
                if idleSince == 0 { idleSince = now }
                if now - idleSince >= spinMicros { return }
                timeout = 1
                continue
            }
            idleSince = 0
            timeout = 0
            nowMs = server.keyspace.clock.nowMs()
            if settingsCell.generation != settingsGeneration { refreshSettings() }
            for i in 0..<n {
                let ev = events[i]
                let fd = ev.fd
                if fd == wakeFd {
                    tc_eventfd_drain(wakeFd)
                    takePending()
                    continue
                }
                guard Int(fd) < connections.count, let c = connections[Int(fd)] else { continue }
                if ev.events & UInt32(TC_EPOLLOUT) != 0 { c.onWritable() }
                if c.closed { continue }
                if ev.events & UInt32(TC_EPOLLIN) != 0 {
                    c.onReadable()
                } else if ev.events & UInt32(TC_EPOLLHUP | TC_EPOLLERR) != 0 {
                    c.close()
                }
            }
        }
    }

    @inline(never)
    private func refreshSettings() {
        settingsGeneration = settingsCell.generation
        settings = settingsCell.value
        for c in connections { c?.apply(settings) }
    }

    private func takePending() {
        pendingLock.lock()
        let p = pending
        let t = tasks
        pending.removeAll()
        tasks.removeAll()
        pendingLock.unlock()
        adopt(p)
        for task in t { task() }
    }

    /// Serves new connections (the listener's) while a script is busy; the tasks stay queued
    /// (and the eventfd signalled) for when it is done.
    private func adoptPendingWhileBusy() {
        pendingLock.lock()
        let p = pending
        pending.removeAll()
        pendingLock.unlock()
        adopt(p)
    }

    private func adopt(_ p: [(Int32, ClientState)]) {
        for (fd, client) in p {
            let c = Connection(fd: fd, loop: self, client: client, server: server)
            let i = Int(fd)
            if i >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: i + 1 - connections.count + 64))
            }
            connections[i] = c
            server.registry.add(c.published)
            if tc_epoll_ctl(epfd, TC_EPOLL_ADD, fd, UInt32(TC_EPOLLIN)) != 0 { c.close() }
        }
    }

    /// Called by a connection when it closes.
    func removed(_ c: Connection) {
        let i = Int(c.fd)
        if i < connections.count, connections[i] === c { connections[i] = nil }
        server.registry.remove(c.published)
        releasedBytes += c.ownedBufferBytes + EventLoop.connectionObjectBytes
    }

    /// Heap a connection's objects hold besides its buffers (Connection, ClientState, parser,
    /// reply writer, command context, closures): RSS measured 0.9 KB per connection once
    /// connected, 1.3 KB after its first command (Tests/bench/connections.py).
    static let connectionObjectBytes = 1300
    /// What one freed keyspace entry gives back, ~93 bytes measured: the unit in which
    /// Keyspace.trimHeapIfWorthIt counts.
    static let bytesPerFreedEntry = 100

    /// Asks the loop to sweep (the cron does, once a second). The sweep runs as a task inside
    /// drain, through the wake-up, so a loop that never hands its thread back under load still
    /// sweeps; no timer or global queue of its own (libdispatch's worker-pool monitor, which
    /// global queues start, opens /proc files and traps when out of descriptors).
    func requestSweep() {
        run { [weak self] in self?.sweepIdleConnections() }
    }

    /// Frees the buffers of connections idle since the previous sweep, then trims the heap when
    /// closes and releases gave enough back. glibc keeps freed pages, and connections are made
    /// and freed on whichever thread Dispatch lends the loop, spreading them over arenas.
    /// Measured with 5 rounds of 5,000 connections that each echoed 40 KB (buffers of their
    /// own) and closed: RSS 694 MB after the rounds without the trim, 30 MB once the sweeps had
    /// run with it.
    private func sweepIdleConnections() {
        for case let c? in connections where !c.closed { releasedBytes += c.releaseIfIdle() }
        if releasedBytes >= EventLoop.bytesPerFreedEntry {
            server.keyspace.trimHeapIfWorthIt(freed: releasedBytes / EventLoop.bytesPerFreedEntry)
            releasedBytes = 0
        }
    }

    /// The connection on this descriptor, if this loop owns it (loop thread only).
    func connection(fd: Int32) -> Connection? {
        Int(fd) < connections.count ? connections[Int(fd)] : nil
    }

    /// Every live connection (loop thread only).
    var liveConnections: [Connection] { connections.compactMap { $0 } }
}
