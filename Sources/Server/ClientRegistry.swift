import Commands
import Store
import Synchronization

/// Every connected client, for CLIENT LIST/KILL, INFO clients and maxclients. Touched on
/// connect, disconnect and by those commands only — never per request.
final class ClientRegistry: Sendable {
    private let byId = Locked<[Int: PublishedConnection]>([:])
    private let nextId = Atomic<Int>(1)
    /// Clients admitted by the listener and not yet gone: counted at accept, before their loop
    /// registers them, so a burst of connections cannot overshoot maxclients.
    private let live = Atomic<Int>(0)

    func newId() -> Int { nextId.add(1, ordering: .relaxed).oldValue }

    var count: Int { live.load(ordering: .relaxed) }

    /// Counts one more client unless that would exceed maxClients (the listener's queue only).
    func admit(maxClients: Int) -> Bool {
        if live.add(1, ordering: .relaxed).newValue <= maxClients { return true }
        live.subtract(1, ordering: .relaxed)
        return false
    }

    /// Takes back an admission (the client was refused after all).
    func withdraw() { live.subtract(1, ordering: .relaxed) }

    /// An admitted client's connection, now served by its loop.
    func add(_ c: PublishedConnection) {
        byId.withLock { $0[c.client.id] = c }
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
