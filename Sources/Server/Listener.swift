import CTagCacheSys
import Dispatch
import Glibc
import Store
import Synchronization

/// The server's listening sockets, accepted from on one serial queue. Out of file descriptors
/// (EMFILE, ENFILE) accept(2) fails while the socket stays readable, so a level-triggered
/// source would fire again at once and spin: instead the clients waiting in the backlog are
/// accepted with a spare descriptor and told `-ERR max number of clients reached`, and when
/// even that fails the sockets are paused until a cron tick at least `pauseMs` later.
// @unchecked Sendable: after bind every var is touched only on `queue` (stop() goes through it).
final class Listener: @unchecked Sendable {
    let queue = DispatchQueue(label: "tagcache.accept")
    /// Left by each socket's cancel handler once it has closed the socket (stop waits for them).
    private let closing = DispatchGroup()
    private var fds: [Int32] = []
    private var sources: [DispatchSourceRead] = []
    /// Held in reserve for telling a client there is no room (see acceptFailed).
    private var spareFd: Int32 = -1
    private var paused = false
    private var pausedAtMs: Int64 = 0
    /// `paused` for the cron, which reads it from its own queue.
    private let pausedSignal = Atomic<Bool>(false)
    private var stopped = false
    private var lastWarningMs: Int64 = 0
    /// How long the sockets rest when not even the spare descriptor helps.
    static let pauseMs = 100

    /// The listening sockets' descriptors.
    var descriptors: [Int32] { fds }

    /// Listens on every host at `port` (0 picks a free one, which the later hosts then use too);
    /// a host written `-addr` may be missing. Returns the bound port.
    func bind(hosts: [String], port: Int, backlog: Int) throws -> Int {
        var bound = port
        for host in hosts {
            let h = Listener.address(host)
            var p: Int32 = 0
            let fd = h.withCString { tc_listen($0, Int32(bound), Int32(backlog), &p) }
            if fd < 0 {
                if host.hasPrefix("-") { continue }
                for f in fds { Glibc.close(f) }
                fds.removeAll()
                throw TagCacheServer.StartError.listen(h, bound, String(cString: strerror(-fd)))
            }
            bound = Int(p)
            fds.append(fd)
        }
        return bound
    }

    /// A bind address as the socket layer takes it: Redis's `*` and `::*` are any IPv4 and
    /// any IPv6 address, and a leading `-` only marks the address optional.
    static func address(_ host: String) -> String {
        let h = host.hasPrefix("-") ? String(host.dropFirst()) : host
        switch h {
        case "*": return "0.0.0.0"
        case "::*": return "::"
        default: return h
        }
    }

    /// Starts accepting: `accept(listenFd)` runs on the queue whenever a socket is readable.
    func resume(_ accept: @escaping (Int32) -> Void) {
        spareFd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        for fd in fds {
            let src = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            src.setEventHandler { accept(fd) }
            // Dispatch may still watch the descriptor until the cancel handler runs.
            let closing = self.closing
            closing.enter()
            src.setCancelHandler {
                Glibc.close(fd)
                closing.leave()
            }
            sources.append(src)
            src.resume()
        }
    }

    /// Closes the sockets of a start that failed before `resume`.
    func closeUnstarted() {
        for f in fds { Glibc.close(f) }
        fds.removeAll()
    }

    func stop() {
        queue.sync {
            stopped = true
            for s in sources {
                s.cancel()
                // A suspended source runs its cancel handler (which closes) only once resumed.
                if paused { s.resume() }
            }
            paused = false
            sources.removeAll()
            if spareFd >= 0 { Glibc.close(spareFd) }
            spareFd = -1
        }
        // The sockets close in their cancel handlers, after this returns otherwise: a client
        // could still connect to a stopped server (seen once in a CI loop).
        _ = closing.wait(timeout: .now() + 5)
    }

    /// accept(2) on listenFd failed with `error` (on the queue). Out of descriptors, Redis logs
    /// "Accepting client connection: ..." (here at most once a second); then the spare
    /// descriptor is given back to accept each waiting client, `reject` answers and closes it,
    /// and the spare is taken again. When that does not empty the backlog, the sockets pause.
    func acceptFailed(_ listenFd: Int32, error: Int32, log: Log, reject: (Int32) -> Void) {
        guard error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM else { return }
        warnOutOfDescriptors(log, "Accepting client connection: accept: \(String(cString: strerror(error)))")
        if spareFd < 0 { spareFd = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        var addr = [CChar](repeating: 0, count: 64)
        var drained = false
        while spareFd >= 0 {
            Glibc.close(spareFd)
            var peerPort: Int32 = 0
            let fd = tc_accept(listenFd, &addr, 64, &peerPort)
            // The client's descriptor goes before the spare is taken again: it is the one freed.
            if fd >= 0 { reject(fd) }
            spareFd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            if fd >= 0 { continue }
            drained = fd == -EAGAIN || fd == -EWOULDBLOCK
            break
        }
        if !drained { pause() }
    }

    /// Logs a refusal for lack of descriptors, at most once a second (on the queue).
    func warnOutOfDescriptors(_ log: Log, _ message: @autoclosure () -> String) {
        let now = monotonicMs()
        if now - lastWarningMs >= 1000 {
            lastWarningMs = now
            log.warning(message())
        }
    }

    /// Suspends the sockets; the cron's next `resumeIfRested` (at least `pauseMs` later) wakes
    /// them. No Dispatch timer is made here: out of descriptors, libdispatch cannot create the
    /// timerfd a new deadline may need and traps instead.
    private func pause() {
        if paused || stopped { return }
        paused = true
        pausedSignal.store(true, ordering: .relaxed)
        pausedAtMs = monotonicMs()
        for s in sources { s.suspend() }
        // Resting, the spare is better free: libdispatch may need a descriptor meanwhile.
        if spareFd >= 0 { Glibc.close(spareFd) }
        spareFd = -1
    }

    /// Called by the cron (any thread): resumes paused sockets once they have rested.
    func resumeIfRested() {
        guard pausedSignal.load(ordering: .relaxed) else { return }
        queue.async { [self] in
            guard paused, !stopped, monotonicMs() - pausedAtMs >= Int64(Listener.pauseMs) else { return }
            paused = false
            pausedSignal.store(false, ordering: .relaxed)
            spareFd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            for s in sources { s.resume() }
        }
    }
}
