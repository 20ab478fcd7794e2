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
// @unchecked Sendable: its vars are set in init/start() before listeners, loops and timers run, or only on the accept queue; what changes later is Atomic, Locked or a published ServerSettings.
public final class TagCacheServer: @unchecked Sendable {
    public let config: Config
    public let keyspace: Keyspace
    public let log = Log()
    let commands: CommandTable
    /// Lua scripting: one engine for every loop (ScriptEngine).
    public let scripts = ScriptEngine(redisVersion: TagCacheVersion.redisVersion)
    let registry = ClientRegistry()
    let errorStats = ErrorStats()
    private(set) var loops: [EventLoop] = []
    private let listener = Listener()
    /// Descriptors kept for the server itself, out of RLIMIT_NOFILE (set by start()).
    private var reservedDescriptors = FileLimits.minReserved
    private let cronQueue = DispatchQueue(label: "tagcache.cron")
    private var cron: DispatchSourceTimer?
    /// Cron ticks so far and per second (cron queue only; the rate is fixed at start).
    private var cronTicks = 0
    private var cronTicksPerSecond = 10
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
    /// Bytes in use once the server had started (INFO used_memory_startup), as the keyspace
    /// counts them toward maxmemory.
    var startupMemory: Int { keyspace.otherMemory.load(ordering: .relaxed) }
    private var metrics: MetricsEndpoint?
    /// The port /metrics is served on (after start; 0 when metrics-port is 0).
    public private(set) var metricsPort = 0
    private let finished = DispatchSemaphore(value: 0)

    /// The port actually bound (after start).
    public private(set) var port = 0
    let startedMonotonicMs = monotonicMs()
    let startedWallMs: Int64
    let runId: String
    /// Called once the server has stopped after SHUTDOWN or a signal (the executable exits 0).
    public var onShutdown: (@Sendable () -> Void)?
    /// Rates and peaks INFO reports, sampled by the cron.
    let runtime: ServerRuntime

    /// The directives read while serving (limits, password, timeouts), published as a whole
    /// by CONFIG SET; event loops keep a copy they refresh when its generation moves.
    let settings: SettingsCell

    public init(config: Config = Config()) {
        self.config = config
        keyspace = Keyspace(shards: config[.shards], databases: config[.databases])
        commands = CommandTable.standard()
        settings = SettingsCell(ServerSettings(config))
        startedWallMs = keyspace.clock.nowMs()
        runId = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
        runtime = ServerRuntime(startedMonotonicMs: startedMonotonicMs)
        applyConfig()
        // Before anything is logged, so that every line goes to the file.
        let logfile = config[.logfile]
        if !logfile.isEmpty && !log.setFile(logfile) {
            log.warning("Can't open the log file \(logfile)")
        }
    }

    /// Re-reads the directives the running server caches and publishes them (callers hold
    /// every shard lock, or run before the server starts).
    func applyConfig() {
        let previous = settings.value
        let next = ServerSettings(config)
        settings.publish(next)
        log.level = Log.parseLevel(config[.loglevel]) ?? .notice
        if next.prefixSeparator != previous.prefixSeparator { prefixStats.reset() }
        applyStatsConfig(next)
        scripts.busyThresholdMs.store(config[.busyReplyThreshold], ordering: .relaxed)
        ScriptEngine.setHeapLimit(config[.scriptHeapMax])
        keyspace.configureEviction(maxmemory: config[.maxmemory],
                                   policy: EvictionPolicy(rawValue: config[.maxmemoryPolicy]) ?? .noeviction,
                                   samples: config[.maxmemorySamples],
                                   lfuLogFactor: config[.lfuLogFactor],
                                   lfuDecayMinutes: config[.lfuDecayTime])
    }

    /// Stores CONFIG SET's checked values and applies them, one CONFIG SET at a time, so what
    /// is published and applied is the last write's whichever loops run two at once. Every
    /// shard lock is what serialises them, as for EXEC: a CONFIG SET inside EXEC already holds
    /// them (they are recursive), and applying takes them anyway (eviction settings), so any
    /// other lock here would be taken in the opposite order by one of the two.
    func storeAndApply(_ normalized: [(Directive, String)]) {
        keyspace.lockAll()
        defer { keyspace.unlockAll() }
        config.store(normalized)
        applyConfig()
    }

    /// Hands the statistics directives to the loops (read on their request path) and the slow log.
    private func applyStatsConfig(_ s: ServerSettings) {
        for l in loops { s.configure(l.counters) }
        slowlog.setMaxLength(config[.slowlogMaxLen])
    }

    /// What applyConfig hands each loop's counters and the slow log, for a stand-in loop (the
    /// command fuzzer runs the Dispatcher without event loops).
    public func configure(_ counters: LoopCounters) {
        settings.value.configure(counters)
        counters.slowlog.setMaxLength(config[.slowlogMaxLen])
    }

    public enum StartError: Error, CustomStringConvertible {
        case listen(String, Int, String)
        /// The open-file limit leaves no room for clients (Redis exits with this).
        case openFiles(String)
        public var description: String {
            switch self {
            case let .listen(host, port, why): return "Could not create server TCP listening socket \(host):\(port): \(why)"
            case let .openFiles(message): return message
            }
        }
    }

    /// At start, as Redis's adjustOpenFilesLimit: raises RLIMIT_NOFILE to maxclients plus the
    /// descriptors the server keeps for itself, or lowers maxclients to fit and says so.
    private func fitMaxClientsToFileLimit(eventLoops: Int, metrics: Bool) throws {
        reservedDescriptors = FileLimits.reserved(eventLoops: eventLoops, metrics: metrics)
        let asked = config[.maxclients]
        let outcome = FileLimits.adjust(maxClients: asked, reserved: reservedDescriptors)
        if let fatal = outcome.fatal { throw StartError.openFiles(fatal) }
        for w in outcome.warnings { log.warning(w) }
        if let n = outcome.notice { log.notice(n) }
        if outcome.maxClients != asked {
            config.store([(Directive.Integer.maxclients.directive, String(outcome.maxClients))])
            applyConfig()
        }
    }

    /// CONFIG SET maxclients: the error Redis gives when the open-file limit cannot be raised
    /// enough (nothing is changed then), or nil.
    func maxClientsRefusal(_ value: String) -> String? {
        guard let asked = Int(value) else { return nil }
        let outcome = FileLimits.adjust(maxClients: asked, reserved: reservedDescriptors)
        if let n = outcome.notice { log.notice(n) }
        if outcome.maxClients == asked && outcome.fatal == nil { return nil }
        let fits = outcome.fatal == nil ? outcome.maxClients : settings.value.maxClients
        return "ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with \(fits)"
    }

    /// Binds, starts the event loops and timers; returns the bound port.
    @discardableResult
    public func start(handleSignals: Bool = false) throws -> Int {
        var n = config[.eventLoops]
        if n == 0 { n = UsableCores.defaultEventLoops() }
        let metricsWanted = config[.metricsPort]
        try fitMaxClientsToFileLimit(eventLoops: n, metrics: metricsWanted > 0)
        let hosts = config[.bind].split(separator: " ").map { String($0) }
        port = try listener.bind(hosts: hosts.isEmpty ? ["127.0.0.1"] : hosts, port: config[.port],
                                 backlog: config[.tcpBacklog])
        loops = (0..<n).map { EventLoop(index: $0, server: self, commandSlots: commands.allSpecs.count) }
        for l in loops { l.counters.slowlog = slowlog }
        applyStatsConfig(settings.value)
        for l in loops { l.start() }
        if metricsWanted > 0 {
            let endpoint = MetricsEndpoint(server: self)
            do {
                metricsPort = try endpoint.start(hosts: hosts.isEmpty ? ["127.0.0.1"] : hosts, port: metricsWanted)
                metrics = endpoint
            } catch {
                listener.closeUnstarted()
                for l in loops { l.stop() }
                throw error
            }
        }
        listener.resume { [unowned self] fd in self.acceptAll(fd) }
        let interval = max(1, 1000 / max(1, config[.hz]))
        cronTicksPerSecond = max(1, 1000 / interval)
        let t = DispatchSource.makeTimerSource(queue: cronQueue)
        t.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval), leeway: .milliseconds(1))
        t.setEventHandler { [unowned self] in self.serverCron() }
        t.resume()
        cron = t
        if handleSignals { installSignalHandlers() }
        let pidfile = config[.pidfile]
        if !pidfile.isEmpty, let f = fopen(pidfile, "w") {
            fputs("\(getpid())\n", f)
            fclose(f)
        }
        log.notice("Running mode=standalone, port=\(port).")
        log.notice("\(loops.count) event loop\(loops.count == 1 ? "" : "s") (event-loops \(config[.eventLoops]), \(UsableCores.count()) usable core\(UsableCores.count() == 1 ? "" : "s")).")
        if metricsPort > 0 { log.notice("Serving Prometheus metrics on port \(metricsPort) (GET /metrics).") }
        keyspace.otherMemory.store(Int(tc_malloc_used()), ordering: .relaxed)
        log.notice("Server initialized")
        if let reason = scripts.unavailableReason {
            log.warning("Scripting (EVAL, SCRIPT) is unavailable: \(reason)")
        }
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
        let ceiling = FileLimits.clientCeiling()
        while true {
            var peerPort: Int32 = 0
            let fd = tc_accept(listenFd, &addr, 64, &peerPort)
            if fd < 0 {
                listener.acceptFailed(listenFd, error: -fd, log: log) { reject($0) }
                return
            }
            if fd > ceiling {
                listener.warnOutOfDescriptors(log, "Accepting client connection: descriptor \(fd) is in the \(FileLimits.headroom) the server keeps for itself (RLIMIT_NOFILE \(ceiling + FileLimits.headroom + 1))")
                reject(fd)
                continue
            }
            let now = keyspace.clock.nowMs()
            let current = settings.value
            if !registry.admit(maxClients: current.maxClients) {
                reject(fd)
                continue
            }
            let host = String(cString: addr)
            if ProtectedMode.refuses(enabled: current.protectedMode, passwordSet: current.requirePass != nil, peer: host) {
                registry.withdraw()
                reject(fd, ProtectedMode.denied)
                continue
            }
            if current.tcpKeepalive > 0 { _ = tc_set_keepalive(fd, Int32(current.tcpKeepalive)) }
            var laddr = [CChar](repeating: 0, count: 64)
            var lport: Int32 = 0
            var local = ""
            if tc_sock_name(fd, 0, &laddr, 64, &lport) == 0 {
                let lh = String(cString: laddr)
                local = lh.contains(":") ? "[\(lh)]:\(lport)" : "\(lh):\(lport)"
            }
            let client = ClientState(id: registry.newId(), authenticated: current.requirePass == nil, now: now, fd: fd,
                                     address: host.contains(":") ? "[\(host)]:\(peerPort)" : "\(host):\(peerPort)",
                                     localAddress: local)
            log.verbose("Accepted \(client.address)")
            let loop = loops[nextLoop % loops.count]
            nextLoop &+= 1
            loop.counters.add(.connectionsReceived, 1)
            loop.adopt(fd: fd, client: client)
        }
    }

    /// A client refused at accept (maxclients, no descriptor left, protected mode): Redis's
    /// error, then close.
    private func reject(_ fd: Int32, _ msg: String = "-ERR max number of clients reached\r\n") {
        _ = msg.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        Glibc.close(fd)
        loops[0].counters.add(.rejectedConnections, 1)
    }

    /// Background work, `hz` times a second: active expiry and idle-client timeouts.
    private func serverCron() {
        listener.resumeIfRested()
        // Evictions a command left unfinished (its time budget ran out) or a lowered maxmemory.
        _ = keyspace.evictIfNeeded(budgetUs: 10_000)
        let t0 = monotonicUs()
        let expired = keyspace.activeExpireCycle()
        keyspace.trimHeapIfWorthIt(freed: expired)
        expireCycleMicros.add(Int(monotonicUs() - t0), ordering: .relaxed)
        runtime.tick(self)
        cronLog.tick(self)
        let current = settings.value
        cronTicks &+= 1
        if cronTicks % cronTicksPerSecond == 0 { for l in loops { l.requestSweep() } }
        prefixStats.step(self, separator: current.prefixSeparator, limit: current.prefixesMax)
        if current.idleTimeoutSeconds > 0 { closeIdleClients(timeout: Int64(current.idleTimeoutSeconds)) }
    }

    /// `timeout`, as Redis's clientsCronHandleTimeout: a client idle more than that many whole
    /// seconds is closed, inside MULTI too; a client blocked in BLPOP and friends never is
    /// (replicas, masters and pub/sub clients, also spared by Redis, do not exist here).
    private func closeIdleClients(timeout: Int64) {
        let now = keyspace.clock.nowMs() / 1000
        registry.withClients { list in
            for c in list where !c.client.isParked && !c.client.killed && now - c.client.lastInteractionMs / 1000 > timeout {
                log.verbose("Closing idle client")
                c.client.killed = true
                shutdownSocket(c.fd)
            }
        }
    }

    /// Stops accepting, writes what is pending, closes every client, then calls onShutdown.
    public func stop() {
        if stopping.exchange(true, ordering: .relaxed) { return }
        log.warning("User requested shutdown...")
        // A running script stops at its next hook, so its loop can close its clients.
        scripts.stopForShutdown()
        listener.stop()
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
            let pidfile = config[.pidfile]
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
