import Commands
import Glibc
import Store
import Synchronization

/// Every connected client, for CLIENT LIST/KILL, INFO clients and maxclients. Touched on
/// connect, disconnect and by those commands only — never per request.
final class ClientRegistry: @unchecked Sendable {
    private let lock = ShardLock()
    private var byId: [Int: Connection] = [:]
    private let nextId = Atomic<Int>(1)

    func newId() -> Int { nextId.add(1, ordering: .relaxed).oldValue }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return byId.count
    }

    func add(_ c: Connection) {
        lock.lock()
        byId[c.client.id] = c
        lock.unlock()
    }

    func remove(_ c: Connection) {
        lock.lock()
        if byId[c.client.id] === c { byId[c.client.id] = nil }
        lock.unlock()
    }

    /// Runs body with the registry locked (connections cannot leave meanwhile).
    func withClients<R>(_ body: ([Connection]) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(byId.keys.sorted().compactMap { byId[$0] })
    }

    /// Runs body while the registry is locked (to change fields other threads read, like names).
    func locked<R>(_ body: () -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
