import CTagCacheSys
import Commands
import Dispatch
import Glibc
import RESP
import Store
import Synchronization

/// A running TagCache: listener, event loops, background timers, configuration. Start one
/// in-process (tests, embedding) with `TagCacheServer(config:)` and `start()`, which returns
/// the bound port (`port 0` picks a free one).
public final class TagCacheServer: @unchecked Sendable {
    public let config: Config
    public let keyspace: Keyspace
    public let log = Log()
    let commands: CommandTable
    let registry = ClientRegistry()
    let errorStats = ErrorStats()
    private(set) var loops: [EventLoop] = []
    private var listeners: [(fd: Int32, source: DispatchSourceRead)] = []
    private let acceptQueue = DispatchQueue(label: "tagcache.accept")
    private let cronQueue = DispatchQueue(label: "tagcache.cron")
    private var cron: DispatchSourceTimer?
    private var signalSources: [DispatchSourceSignal] = []
    private var nextLoop = 0
    private let stopping = Atomic<Bool>(false)
    /// Clients parked by BLPOP and friends (INFO blocked_clients).
    let blockedClients = Atomic<Int>(0)
    /// SLOWLOG, shared by every loop.
    let slowlog = Slowlog()
    /// INFO keyprefixes: merged sketches and the background key count.
    let prefixStats = KeyPrefixStats()
    /// The cron's periodic log lines (verbose and debug).
    let cronLog = CronLog()
    /// Microseconds spent in active expiry (INFO expire_cycle_cpu_milliseconds).
    let expireCycleMicros = Atomic<Int>(0)
    /// Bytes in use once the server had started (INFO used_memory_startup).
    private(set) var startupMemory = 0
    private var metrics: MetricsEndpoint?
    /// The port /metrics is served on (after start; 0 when metrics-port is 0).
    public private(set) var metricsPort = 0
    private var prefixSeparator: UInt8 = UInt8(ascii: ":")
    private let finished = DispatchSemaphore(value: 0)

    /// The port actually bound (after start).
    public private(set) var port = 0
    let startedMonotonicMs = monotonicMs()
    let startedWallMs: Int64
    let runId: String
    /// Called once the server has stopped after SHUTDOWN or a signal (the executable exits 0).
    public var onShutdown: (@Sendable () -> Void)?
    /// Rates and peaks INFO reports, sampled by the cron.
    private(set) var runtime: ServerRuntime!

    // Limits read on the request path (plain fields; CONFIG SET updates them).
    var protocolLimits: ProtocolLimits
    var queryBufferLimit: Int
    var outputBackpressure: Int
    var maxClients: Int
    var idleTimeoutSeconds: Int
    private(set) var requirePassBytes: [UInt8]?

    public init(config: Config = Config()) {
        self.config = config
        keyspace = Keyspace(shards: config.int("shards"), databases: config.int("databases"))
        commands = CommandTable.standard()
        protocolLimits = ProtocolLimits()
        queryBufferLimit = 0
        outputBackpressure = 0
        maxClients = 0
        idleTimeoutSeconds = 0
        startedWallMs = keyspace.clock.nowMs()
        runId = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
        applyConfig()
        runtime = ServerRuntime(server: self)
        // Before anything is logged, so that every line goes to the file.
        if !config.get("logfile").isEmpty && !log.setFile(config.get("logfile")) {
            log.warning("Can't open the log file \(config.get("logfile"))")
        }
    }

    /// Re-reads the directives the running server caches.
    func applyConfig() {
        protocolLimits = ProtocolLimits(maxBulkLength: config.int("proto-max-bulk-len"),
                                        maxMultibulkLength: config.int("proto-max-multibulk-len"))
        queryBufferLimit = config.int("client-query-buffer-limit")
        outputBackpressure = config.int("client-output-backpressure")
        maxClients = config.int("maxclients")
        idleTimeoutSeconds = config.int("timeout")
        let p = config.get("requirepass")
        requirePassBytes = p.isEmpty ? nil : Array(p.utf8)
        log.level = Log.parseLevel(config.get("loglevel")) ?? .notice
        applyStatsConfig()
        keyspace.configureEviction(maxmemory: config.int("maxmemory"),
                                   policy: EvictionPolicy(rawValue: config.get("maxmemory-policy")) ?? .noeviction,
                                   samples: config.int("maxmemory-samples"),
                                   lfuLogFactor: config.int("lfu-log-factor"),
                                   lfuDecayMinutes: config.int("lfu-decay-time"))
    }

    /// Hands the statistics directives to the loops (read on their request path) and the slow log.
    private func applyStatsConfig() {
        let separator = config.get("stats-prefix-separator").utf8.first ?? UInt8(ascii: ":")
        if separator != prefixSeparator {
            prefixSeparator = separator
            prefixStats.reset()
        }
        let tracking = config.bool("latency-tracking")
        let slower = config.int("slowlog-log-slower-than")
        let prefixes = config.int("stats-prefixes-max")
        for l in loops {
            l.counters.configure(latencyTracking: tracking, slowlogMicroseconds: slower, prefixSeparator: separator,
                                 prefixes: prefixes)
        }
        slowlog.setMaxLength(config.int("slowlog-max-len"))
    }

    public enum StartError: Error, CustomStringConvertible {
        case listen(String, Int, String)
        public var description: String {
            switch self {
            case let .listen(host, port, why): return "Could not create server TCP listening socket \(host):\(port): \(why)"
            }
        }
    }

    /// Binds, starts the event loops and timers; returns the bound port.
    @discardableResult
    public func start(handleSignals: Bool = false) throws -> Int {
        let wanted = config.int("port")
        var bound = wanted
        let hosts = config.get("bind").split(separator: " ").map { String($0) }
        for host in hosts.isEmpty ? ["127.0.0.1"] : hosts {
            let h = host.hasPrefix("-") ? String(host.dropFirst()) : host
            var p: Int32 = 0
            let fd = h.withCString { tc_listen($0, Int32(bound), Int32(config.int("tcp-backlog")), &p) }
            if fd < 0 {
                if host.hasPrefix("-") { continue }
                for l in listeners { l.source.cancel(); Glibc.close(l.fd) }
                listeners.removeAll()
                throw StartError.listen(h, bound, String(cString: strerror(-fd)))
            }
            bound = Int(p)
            let src = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
            src.setEventHandler { [unowned self] in self.acceptAll(fd) }
            listeners.append((fd, src))
        }
        port = bound
        var n = config.int("event-loops")
        if n == 0 { n = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 64)) }
        loops = (0..<n).map { EventLoop(index: $0, server: self, commandSlots: commands.allSpecs.count) }
        for l in loops { l.counters.slowlog = slowlog }
        applyStatsConfig()
        for l in loops { l.start() }
        let metricsWanted = config.int("metrics-port")
        if metricsWanted > 0 {
            let endpoint = MetricsEndpoint(server: self)
            do {
                metricsPort = try endpoint.start(hosts: hosts.isEmpty ? ["127.0.0.1"] : hosts, port: metricsWanted)
                metrics = endpoint
            } catch {
                for l in listeners { l.source.cancel(); Glibc.close(l.fd) }
                listeners.removeAll()
                for l in loops { l.stop() }
                throw error
            }
        }
        for l in listeners { l.source.resume() }
        let interval = max(1, 1000 / max(1, config.int("hz")))
        let t = DispatchSource.makeTimerSource(queue: cronQueue)
        t.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval), leeway: .milliseconds(1))
        t.setEventHandler { [unowned self] in self.serverCron() }
        t.resume()
        cron = t
        if handleSignals { installSignalHandlers() }
        let pidfile = config.get("pidfile")
        if !pidfile.isEmpty, let f = fopen(pidfile, "w") {
            fputs("\(getpid())\n", f)
            fclose(f)
        }
        log.notice("Running mode=standalone, port=\(port).")
        if metricsPort > 0 { log.notice("Serving Prometheus metrics on port \(metricsPort) (GET /metrics).") }
        startupMemory = Int(tc_malloc_used())
        keyspace.otherMemory.store(startupMemory, ordering: .relaxed)
        log.notice("Server initialized")
        log.notice("Ready to accept connections tcp")
        return port
    }

    private func installSignalHandlers() {
        signal(SIGPIPE, SIG_IGN)
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: cronQueue)
            s.setEventHandler { [unowned self] in
                self.log.warning("Received \(name) scheduling shutdown...")
                self.stop()
            }
            s.resume()
            signalSources.append(s)
        }
    }

    private func acceptAll(_ listenFd: Int32) {
        var addr = [CChar](repeating: 0, count: 64)
        while true {
            var peerPort: Int32 = 0
            let fd = tc_accept(listenFd, &addr, 64, &peerPort)
            if fd < 0 { return }
            let now = keyspace.clock.nowMs()
            if registry.count >= maxClients {
                let msg = "-ERR max number of clients reached\r\n"
                _ = msg.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                Glibc.close(fd)
                loops[0].counters.add(.rejectedConnections, 1)
                continue
            }
            let ka = config.int("tcp-keepalive")
            if ka > 0 { _ = tc_set_keepalive(fd, Int32(ka)) }
            let client = ClientState(id: registry.newId(), authenticated: requirePassBytes == nil, now: now)
            let host = String(cString: addr)
            client.address = host.contains(":") ? "[\(host)]:\(peerPort)" : "\(host):\(peerPort)"
            var laddr = [CChar](repeating: 0, count: 64)
            var lport: Int32 = 0
            if tc_sock_name(fd, 0, &laddr, 64, &lport) == 0 {
                let lh = String(cString: laddr)
                client.localAddress = lh.contains(":") ? "[\(lh)]:\(lport)" : "\(lh):\(lport)"
            }
            client.fd = fd
            log.verbose("Accepted \(client.address)")
            let loop = loops[nextLoop % loops.count]
            nextLoop &+= 1
            loop.counters.add(.connectionsReceived, 1)
            loop.adopt(fd: fd, client: client)
        }
    }

    /// Background work, `hz` times a second: active expiry and idle-client timeouts.
    private func serverCron() {
        // Evictions a command left unfinished (its time budget ran out) or a lowered maxmemory.
        _ = keyspace.evictIfNeeded(budgetUs: 10_000)
        let t0 = monotonicUs()
        let expired = keyspace.activeExpireCycle()
        keyspace.trimHeapIfWorthIt(freed: expired)
        expireCycleMicros.add(Int(monotonicUs() - t0), ordering: .relaxed)
        runtime.tick()
        cronLog.tick(self)
        prefixStats.step(self, separator: prefixSeparator, limit: config.int("stats-prefixes-max"))
        if idleTimeoutSeconds > 0 {
            let now = keyspace.clock.nowMs()
            let limit = Int64(idleTimeoutSeconds) * 1000
            registry.withClients { list in
                for c in list where now - c.client.lastInteractionMs > limit && c.client.multi == nil {
                    c.client.killed = true
                    shutdownSocket(c.fd)
                }
            }
        }
    }

    /// Stops accepting, writes what is pending, closes every client, then calls onShutdown.
    public func stop() {
        if stopping.exchange(true, ordering: .relaxed) { return }
        log.warning("User requested shutdown...")
        acceptQueue.sync {
            for l in listeners { l.source.cancel(); Glibc.close(l.fd) }
            listeners.removeAll()
        }
        cron?.cancel()
        metrics?.stop()
        let group = DispatchGroup()
        for l in loops {
            group.enter()
            l.run {
                for c in l.liveConnections {
                    c.flush()
                    c.close()
                }
                l.stop()
                group.leave()
            }
        }
        group.notify(queue: cronQueue) { [self] in
            log.warning("TagCache is now ready to exit, bye bye...")
            let pidfile = config.get("pidfile")
            if !pidfile.isEmpty { unlink(pidfile) }
            finished.signal()
            onShutdown?()
        }
    }

    /// Blocks until the server has stopped.
    public func waitUntilStopped() { finished.wait() }

    /// Sum of a counter over all loops.
    func total(_ c: LoopCounters.Counter) -> Int { loops.reduce(0) { $0 + $1.counters.value(c) } }
}

/// Makes the owning loop see EOF on a socket (CLIENT KILL, timeouts) from any thread.
func shutdownSocket(_ fd: Int32) {
    _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
}
