import CTagCacheSys
import Commands
import Glibc
import RESP
import Store

extension TagCacheServer: ServerControl {
    public var requirePass: [UInt8]? { settings.value.requirePass }

    public var redisVersion: String { TagCacheVersion.redisVersion }
    public var tagcacheVersion: String { TagCacheVersion.version }

    public var debugCommandMode: String { config[.enableDebugCommand] }

    public func scriptLog(level: Int, _ message: String) {
        switch level {
        case 0: log.debug(message)
        case 1: log.verbose(message)
        case 2: log.notice(message)
        default: log.warning(message)
        }
    }

    public var countReplyMaxBytes: Int { config[.countReplyMaxBytes] }

    public var lastSaveTime: Int { Int(startedWallMs / 1000) }

    public func info(sections: [String], client: ClientState) -> String {
        Info.render(sections, ServerStats(self))
    }

    public func clientList(ids: [Int]?, type: String?) -> String {
        // Every client is a normal one: TagCache has no replicas, masters or pub/sub clients.
        if let t = type, t != "normal" { return "" }
        return registry.withClients { all in
            // Killed clients are gone for Redis, whether or not their loop has closed them yet.
            let list = all.filter { !$0.client.killed }
            guard let ids else { return list.map { clientLine($0) }.joined() }
            var byId: [Int: PublishedConnection] = [:]
            for c in list { byId[c.client.id] = c }
            return ids.compactMap { byId[$0].map { clientLine($0) } }.joined()
        }
    }

    public func clientInfo(_ client: ClientState) -> String {
        registry.withClients { list in
            list.first { $0.client === client }.map { clientLine($0) } ?? ""
        }
    }

    public func setClientModes(_ client: ClientState, noEvict: Bool?, noTouch: Bool?) {
        if let e = noEvict { client.noEvict = e }
        if let t = noTouch { client.noTouch = t }
    }

    /// One CLIENT LIST line in Redis 7.2's field order, from what the client's loop published
    /// (atomics and the names lock: nothing of the connection's own is read here).
    func clientLine(_ c: PublishedConnection) -> String {
        let cl = c.client
        let now = keyspace.clock.nowMs()
        let age = (now - cl.createdMs) / 1000
        let idle = (now - cl.lastInteractionMs) / 1000
        let lastCommand = cl.lastCommandId
        let cmd = lastCommand >= 0 && lastCommand < commands.allSpecs.count
            ? commands.allSpecs[lastCommand].fullName : "NULL"
        let multi = cl.multiQueued, multiMem = cl.multiBytes
        var flags = ""
        if multi >= 0 { flags += "x" }
        if cl.closeAfterReply { flags += "c" }
        if cl.noEvict { flags += "e" }
        if cl.noTouch { flags += "T" }
        if flags.isEmpty { flags = "N" }
        let ev = c.events.load(ordering: .relaxed)
        let events = (ev & 1 != 0 ? "r" : "") + (ev & 2 != 0 ? "w" : "")
        let name = String(decoding: cl.name, as: UTF8.self)
        let lib = String(decoding: cl.libName, as: UTF8.self)
        let libv = String(decoding: cl.libVersion, as: UTF8.self)
        let qbuf = c.inputPending.load(ordering: .relaxed)
        let inCap = c.inputCapacity.load(ordering: .relaxed)
        let qfree = c.inputFree.load(ordering: .relaxed)
        let outCap = c.outputCapacity.load(ordering: .relaxed)
        let obl = c.outputPending.load(ordering: .relaxed)
        let totMem = inCap + outCap + multiMem
        let resp = c.protocolVersion.load(ordering: .relaxed)
        return "id=\(cl.id) addr=\(cl.address) laddr=\(cl.localAddress) fd=\(cl.fd) name=\(name) age=\(age) idle=\(idle) flags=\(flags) db=\(cl.db) sub=0 psub=0 ssub=0 multi=\(multi) qbuf=\(qbuf) qbuf-free=\(qfree) argv-mem=0 multi-mem=\(multiMem) rbs=\(outCap) rbp=\(outCap) obl=\(obl) oll=0 omem=0 tot-mem=\(totMem) events=\(events) cmd=\(cmd) user=default redir=-1 resp=\(resp) lib-name=\(lib) lib-ver=\(libv)\n"
    }

    public func killClients(_ filter: ClientKillFilter, caller: ClientState) -> Int {
        let now = keyspace.clock.nowMs()
        return registry.withClients { list in
            var n = 0
            for c in list {
                let cl = c.client
                // A client killed before is gone for Redis (it frees it at once); its loop here
                // may not have closed it yet, and must not count it twice.
                if cl.killed { continue }
                if let a = filter.address, cl.address != a { continue }
                if let a = filter.localAddress, cl.localAddress != a { continue }
                if let t = filter.type, t != "normal" { continue }
                if let id = filter.id, cl.id != id { continue }
                if let u = filter.user, u != "default" { continue }
                if filter.skipMe && cl === caller { continue }
                if let age = filter.maxAge, (now - cl.createdMs) / 1000 < age { continue }
                n += 1
                if cl === caller {
                    cl.closeAfterReply = true
                } else {
                    cl.killed = true
                    shutdownSocket(c.fd)
                }
            }
            return n
        }
    }

    public func configGet(_ patterns: [[UInt8]]) -> [(String, String)] {
        var out: [(String, String)] = []
        // Names already answered, in lower case: Redis answers a name once whatever its case,
        // but an alias and its directive are two names and both are answered.
        var seen = Set<String>()
        for p in patterns {
            // Without glob characters Redis looks the name up and answers with the name as given.
            if !p.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }) {
                let given = String(decoding: p, as: UTF8.self)
                if let (d, known) = Config.lookup(given), seen.insert(known).inserted {
                    out.append((given, config.value(d)))
                }
                continue
            }
            for (name, d) in Config.named where !seen.contains(name) {
                if GlobPattern.matches(pattern: p, Array(name.utf8), ignoreCase: true) {
                    seen.insert(name)
                    out.append((name, config.value(d)))
                }
            }
        }
        return out
    }

    public func configSet(_ pairs: [([UInt8], [UInt8])]) -> String? {
        // Checked in Redis's order: every name first (unknown, immutable, protected, duplicate),
        // then the values one after the other, so a later value sees an earlier one (an alias
        // and its directive may both be given: the last wins, as in Redis).
        var named: [(Directive, String, String)] = []
        var seen = Set<String>()
        let protectedAllowed = config[.enableProtectedConfigs] != "no"
        for (n, v) in pairs {
            let name = String(decoding: n, as: UTF8.self)
            guard let (d, known) = Config.lookup(name) else {
                return "ERR Unknown option or number of arguments for CONFIG SET - '\(name)'"
            }
            // These name the argument as given; the value errors below use the known name (as Redis).
            if !d.mutable {
                return "ERR CONFIG SET failed (possibly related to argument '\(name)') - can't set immutable config"
            }
            if d.protected && !protectedAllowed {
                return "ERR CONFIG SET failed (possibly related to argument '\(name)') - can't set protected config"
            }
            if !seen.insert(known).inserted {
                return "ERR CONFIG SET failed (possibly related to argument '\(name)') - duplicate parameter"
            }
            named.append((d, known, String(decoding: v, as: UTF8.self)))
        }
        var pending: [String: String] = [:]
        var order: [Directive] = []
        for (d, known, value) in named {
            switch d.normalize(value, current: pending[d.name] ?? config.value(d)) {
            case let .failure(.message(m)):
                return "ERR CONFIG SET failed (possibly related to argument '\(known)') - \(m)"
            case let .success(v):
                if pending.updateValue(v, forKey: d.name) == nil { order.append(d) }
            }
        }
        // Redis raises the open-file limit when it applies maxclients, and fails the whole set
        // when the limit cannot be raised enough.
        if let m = pending[Directive.Integer.maxclients.name], let refusal = maxClientsRefusal(m) { return refusal }
        // Every value was checked first, so the whole set applies or none of it does.
        let changes = order.map { ($0, pending[$0.name] ?? "") }
        logConfigSet(changes)
        storeAndApply(changes)
        return nil
    }

    public func isSecretDirective(_ name: String) -> Bool { Config.directive(name)?.secret ?? false }

    /// What Redis's CONFIG RESETSTAT resets (command, error and latency statistics, the server's
    /// counters, the memory peak; not the slow log) plus TagCache's key-prefix statistics.
    public func resetStats() {
        for l in loops { l.counters.reset() }
        keyspace.resetStats()
        errorStats.reset()
        runtime.resetPeak()
        expireCycleMicros.store(0, ordering: .relaxed)
        prefixStats.reset()
    }

    public func configRewrite() -> String? {
        guard let path = config.configFile else { return "ERR The server is running without a config file" }
        if let err = ConfigFile.rewrite(path, config: config) {
            log.warning("CONFIG REWRITE failed: \(err)")
            return err
        }
        log.notice("CONFIG REWRITE executed with success.")
        return nil
    }

    public func shutdown(client: ClientState) {
        stop()
    }
}

/// Error replies counted by their code (INFO errorstats): the ReplyWriter reports each one.
extension ErrorStats: ErrorReplyObserver {
    public func errorReplied(code: UnsafeRawBufferPointer) {
        record(String(decoding: code, as: UTF8.self))
    }
}
