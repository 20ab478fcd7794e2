import CTagCacheSys
import Commands
import Dispatch
import Glibc
import Store

/// Prometheus metrics over plain HTTP/1.1 (`metrics-port`): `GET /metrics` answers the text
/// exposition format (0.0.4) with redis_exporter's metric names, so dashboards built for it work
/// unchanged, plus TagCache's own `tagcache_*` metrics (key prefixes, tags). Any other path is a
/// 404, any other method a 405.
///
/// Small on purpose: one serial queue, a Dispatch read source per listening socket and per
/// client (no thread per connection), requests bounded in size (8 KiB of headers) and time
/// (10 s), the connection closed after the response.
// @unchecked Sendable: its vars are touched only on its own serial `queue` (start runs before the sources resume).
final class MetricsEndpoint: @unchecked Sendable {
    static let maxRequestBytes = 8192
    static let timeoutSeconds = 10
    static let maxClients = 64

    private let queue = DispatchQueue(label: "tagcache.metrics")
    private unowned let server: TagCacheServer
    private var listeners: [(fd: Int32, source: DispatchSourceRead)] = []
    private var clients: [Int32: MetricsClient] = [:]
    private var stopped = false

    init(server: TagCacheServer) { self.server = server }

    /// Listens on every host at port (0 picks a free one); returns the bound port.
    func start(hosts: [String], port: Int) throws -> Int {
        var bound = port
        for host in hosts {
            let h = host.hasPrefix("-") ? String(host.dropFirst()) : host
            var p: Int32 = 0
            let fd = h.withCString { tc_listen($0, Int32(bound), 64, &p) }
            if fd < 0 {
                if host.hasPrefix("-") { continue }
                for l in listeners { l.source.cancel() }
                listeners.removeAll()
                throw TagCacheServer.StartError.listen(h, bound, String(cString: strerror(-fd)))
            }
            bound = Int(p)
            let src = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            src.setEventHandler { [unowned self] in self.acceptAll(fd) }
            src.setCancelHandler { Glibc.close(fd) }
            listeners.append((fd, src))
        }
        for l in listeners { l.source.resume() }
        return bound
    }

    /// Stops listening and drops the clients (not from the metrics queue).
    func stop() {
        queue.sync {
            stopped = true
            for l in listeners { l.source.cancel() }
            listeners.removeAll()
            for c in clients.values {
                c.failed = true
                c.source?.cancel()
            }
        }
    }

    private func acceptAll(_ listenFd: Int32) {
        var addr = [CChar](repeating: 0, count: 64)
        while true {
            var peerPort: Int32 = 0
            let fd = tc_accept(listenFd, &addr, 64, &peerPort)
            if fd < 0 { return }
            if stopped || clients.count >= MetricsEndpoint.maxClients {
                Glibc.close(fd)
                continue
            }
            let c = MetricsClient(fd: fd)
            clients[fd] = c
            let src = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            src.setEventHandler { [unowned self] in self.readable(c) }
            src.setCancelHandler { [unowned self] in self.doneReading(c) }
            c.source = src
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now() + .seconds(MetricsEndpoint.timeoutSeconds))
            t.setEventHandler {
                c.failed = true
                c.source?.cancel()
            }
            c.timer = t
            t.resume()
            src.resume()
        }
    }

    private func readable(_ c: MetricsClient) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while c.response.isEmpty && !c.failed {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(c.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                c.request += chunk[0..<n]
                if let response = MetricsEndpoint.respond(to: c.request, server: server) {
                    c.response = response
                } else if c.request.count > MetricsEndpoint.maxRequestBytes {
                    c.response = MetricsEndpoint.reply(431, "Request Header Fields Too Large", body: "request too large\n")
                } else {
                    continue
                }
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return
            } else {
                c.failed = true
            }
        }
        c.source?.cancel()
    }

    /// The read source is gone: write the response, if there is one, then close.
    private func doneReading(_ c: MetricsClient) {
        c.source = nil
        if c.failed || c.response.isEmpty { finish(c) } else { writeMore(c) }
    }

    private func writeMore(_ c: MetricsClient) {
        while c.sent < c.response.count && !c.failed {
            let n = c.response.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                c.sent += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if c.source == nil {
                    let w = DispatchSource.makeWriteSource(fileDescriptor: c.fd, queue: queue)
                    w.setEventHandler { [unowned self] in self.writeMore(c) }
                    w.setCancelHandler { [unowned self] in self.finish(c) }
                    c.source = w
                    w.resume()
                }
                return
            } else {
                c.failed = true
            }
        }
        if let w = c.source {
            c.source = nil
            w.setCancelHandler { [unowned self] in self.linger(c) }
            w.cancel()
        } else {
            linger(c)
        }
    }

    /// The response is out: close our side, then read and drop what the client still sends until
    /// it closes (or the time or byte limit), so that unread input does not turn the close into
    /// a reset that could destroy the response on its way.
    private func linger(_ c: MetricsClient) {
        if c.failed {
            finish(c)
            return
        }
        _ = Glibc.shutdown(c.fd, Int32(SHUT_WR))
        let src = DispatchSource.makeReadSource(fileDescriptor: c.fd, queue: queue)
        src.setEventHandler {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(c.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    c.drained += n
                    if c.drained < 1 << 20 { continue }
                } else if n < 0 && errno == EINTR {
                    continue
                } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return
                }
                c.source?.cancel()
                return
            }
        }
        src.setCancelHandler { [unowned self] in self.finish(c) }
        c.source = src
        src.resume()
    }

    private func finish(_ c: MetricsClient) {
        if c.closed { return }
        c.closed = true
        c.timer?.cancel()
        c.timer = nil
        clients[c.fd] = nil
        Glibc.close(c.fd)
    }

    // MARK: HTTP

    /// The response to a request whose headers are complete, or nil while they are not.
    static func respond(to request: [UInt8], server: TagCacheServer) -> [UInt8]? {
        guard let end = headerEnd(request) else { return nil }
        let lineEnd = request[0..<end].firstIndex { $0 == 13 || $0 == 10 } ?? end
        let line = String(decoding: request[0..<lineEnd], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return reply(400, "Bad Request", body: "bad request\n")
        }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if method != "GET" && method != "HEAD" {
            return reply(405, "Method Not Allowed", body: "only GET\n", extra: "Allow: GET, HEAD\r\n")
        }
        if path != "/metrics" { return reply(404, "Not Found", body: "try /metrics\n", head: method == "HEAD") }
        let body = PrometheusText.render(ServerStats(server))
        return reply(200, "OK", body: body, contentType: "text/plain; version=0.0.4; charset=utf-8", head: method == "HEAD")
    }

    private static func headerEnd(_ r: [UInt8]) -> Int? {
        var i = 0
        while i < r.count {
            if r[i] == 10 {
                if i + 1 < r.count && r[i + 1] == 10 { return i }
                if i + 2 < r.count && r[i + 1] == 13 && r[i + 2] == 10 { return i }
            }
            i += 1
        }
        return nil
    }

    static func reply(_ status: Int, _ reason: String, body: String, contentType: String = "text/plain; charset=utf-8",
                      extra: String = "", head: Bool = false) -> [UInt8] {
        let b = Array(body.utf8)
        var out = Array(("HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(b.count)\r\n"
            + extra + "Connection: close\r\n\r\n").utf8)
        if !head { out += b }
        return out
    }
}

/// One metrics connection (metrics queue only). `source` is the one Dispatch source watching the
/// socket at a time: the read source, then (if the response did not fit at once) a write source.
private final class MetricsClient {
    let fd: Int32
    var request: [UInt8] = []
    var response: [UInt8] = []
    var sent = 0
    var failed = false
    var closed = false
    var drained = 0
    var source: DispatchSourceProtocol?
    var timer: DispatchSourceTimer?

    init(fd: Int32) { self.fd = fd }
}
