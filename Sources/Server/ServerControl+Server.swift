import CTagCacheSys
import Commands
import Glibc
import RESP
import Store

extension TagCacheServer: ServerControl {
    public var requirePass: [UInt8]? { requirePassBytes }

    public var debugCommandsEnabled: Bool { config.get("enable-debug-command") != "no" }

    public func info(sections: [String], client: ClientState) -> String {
        Info(server: self).render(sections)
    }

    public func clientList(ids: [Int]?, type: String?) -> String {
        if let t = type, t != "normal" { return "" }
        return registry.withClients { list in
            list.filter { ids == nil || ids!.contains($0.client.id) }.map { clientLine($0) }.joined()
        }
    }

    public func clientInfo(_ client: ClientState) -> String {
        registry.withClients { list in
            list.first { $0.client === client }.map { clientLine($0) } ?? ""
        }
    }

    /// One CLIENT LIST line in Redis 7's field order.
    func clientLine(_ c: Connection) -> String {
        let cl = c.client
        let now = keyspace.clock.nowMs()
        let age = (now - cl.createdMs) / 1000
        let idle = (now - cl.lastInteractionMs) / 1000
        let cmd = cl.lastCommandId >= 0 && cl.lastCommandId < commands.allSpecs.count
            ? commands.allSpecs[cl.lastCommandId].fullName : "NULL"
        let flags = cl.multi != nil ? "x" : "N"
        let multi = cl.multi.map { String($0.queue.count) } ?? "-1"
        let qbuf = c.input.readableCount
        let obl = c.output.readableCount
        let resp = c.reply.protocolVersion
        let name = String(decoding: cl.name, as: UTF8.self)
        let lib = String(decoding: cl.libName, as: UTF8.self)
        let libv = String(decoding: cl.libVersion, as: UTF8.self)
        return "id=\(cl.id) addr=\(cl.address) laddr=\(cl.localAddress) fd=\(cl.fd) name=\(name) age=\(age) idle=\(idle) flags=\(flags) db=\(cl.db) sub=0 psub=0 ssub=0 multi=\(multi) qbuf=\(qbuf) qbuf-free=\(c.input.capacity - c.input.writeIndex) argv-mem=0 multi-mem=0 rbs=\(c.input.capacity) rbp=\(c.input.capacity) obl=\(obl) oll=0 omem=0 tot-mem=\(c.input.capacity + c.output.capacity) events=r cmd=\(cmd) user=default redir=-1 resp=\(resp) lib-name=\(lib) lib-ver=\(libv)\n"
    }

    public func killClients(_ filter: ClientKillFilter, caller: ClientState) -> Int {
        registry.withClients { list in
            var n = 0
            for c in list {
                let cl = c.client
                if let a = filter.address, cl.address != a { continue }
                if let a = filter.localAddress, cl.localAddress != a { continue }
                if let id = filter.id, cl.id != id { continue }
                if let t = filter.type, t != "normal" { continue }
                if let u = filter.user, u != "default" { continue }
                if let age = filter.maxAge, (keyspace.clock.nowMs() - cl.createdMs) / 1000 < age { continue }
                if filter.skipMe && cl === caller { continue }
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
        var seen = Set<String>()
        for (name, value) in config.all() {
            let nb = Array(name.utf8)
            for p in patterns where GlobPattern.matches(pattern: p, nb, ignoreCase: true) {
                if seen.insert(name).inserted { out.append((name, value)) }
                break
            }
        }
        return out
    }

    public func configSet(_ pairs: [([UInt8], [UInt8])]) -> String? {
        var seen = Set<String>()
        var checked: [(Directive, String)] = []
        for (n, v) in pairs {
            let name = String(decoding: n, as: UTF8.self).lowercased()
            guard let d = Config.directive(name) else {
                return "ERR Unknown option or number of arguments for CONFIG SET - '\(String(decoding: n, as: UTF8.self))'"
            }
            if !seen.insert(d.name).inserted {
                return "ERR CONFIG SET failed (possibly related to argument '\(d.name)') - duplicate parameter"
            }
            if !d.mutable {
                return "ERR CONFIG SET failed (possibly related to argument '\(d.name)') - can't set immutable config"
            }
            let value = String(decoding: v, as: UTF8.self)
            switch d.normalize(value) {
            case let .failure(.message(m)):
                return "ERR CONFIG SET failed (possibly related to argument '\(d.name)') - \(m)"
            case .success:
                checked.append((d, value))
            }
        }
        for (d, v) in checked { _ = config.set(d.name, v, atStartup: false) }
        applyConfig()
        return nil
    }

    public func resetStats() {
        for l in loops { l.counters.reset() }
        keyspace.resetStats()
        errorStats.reset()
    }

    public func configRewrite() -> String? {
        "ERR The server is running without a config file"
    }

    public func shutdown(client: ClientState) {
        stop()
    }
}
