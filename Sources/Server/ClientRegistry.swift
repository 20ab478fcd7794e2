import Commands
import Store
import Synchronization

/// Every connected client, for CLIENT LIST/KILL, INFO clients and maxclients. Touched on
/// connect, disconnect and by those commands only — never per request.
final class ClientRegistry: Sendable {
    private let byId = Locked<[Int: PublishedConnection]>([:])
    private let nextId = Atomic<Int>(1)
    /// Connected clients, without taking the lock (the listener checks maxclients per accept).
    private let live = Atomic<Int>(0)

    func newId() -> Int { nextId.add(1, ordering: .relaxed).oldValue }

    var count: Int { live.load(ordering: .relaxed) }

    func add(_ c: PublishedConnection) {
        let replaced = byId.withLock { $0.updateValue(c, forKey: c.client.id) }
        if replaced == nil { live.add(1, ordering: .relaxed) }
    }

    func remove(_ c: PublishedConnection) {
        let removed = byId.withLock { map -> Bool in
            guard map[c.client.id] === c else { return false }
            map[c.client.id] = nil
            return true
        }
        if removed { live.subtract(1, ordering: .relaxed) }
    }

    /// Runs body with the registry locked (clients cannot leave meanwhile), in id order.
    func withClients<R: Sendable>(_ body: ([PublishedConnection]) -> R) -> R {
        byId.withLock { map in
            body(map.keys.sorted().compactMap { map[$0] })
        }
    }
}
