import Commands
import Synchronization

/// The parts of a connection other threads may read (CLIENT LIST and KILL, INFO, the idle
/// timeout, maxclients): its client state, and figures of its buffers that the owning loop
/// copies here after each batch — relaxed stores, i.e. plain stores, a handful per batch. The
/// buffers themselves stay the loop's alone.
final class PublishedConnection: Sendable {
    let client: ClientState
    /// qbuf, qbuf-free, obl, rbs (CLIENT LIST), INFO's client memory, as of the owner's last batch.
    let inputPending = Atomic<Int>(0)
    let inputFree = Atomic<Int>(0)
    let inputCapacity = Atomic<Int>(0)
    let outputPending = Atomic<Int>(0)
    let outputCapacity = Atomic<Int>(0)
    /// Bit 0: reading (not paused); bit 1: waiting to write. CLIENT LIST's events=.
    let events = Atomic<UInt8>(1)
    /// RESP version the client speaks (CLIENT LIST's resp=).
    let protocolVersion = Atomic<Int>(2)

    init(_ client: ClientState) { self.client = client }

    var fd: Int32 { client.fd }
}

extension Connection {
    /// Copies the buffer figures other threads report (called after each batch, in flush).
    @inline(__always)
    func publish() {
        let p = published
        p.inputPending.store(input.readableCount, ordering: .relaxed)
        p.inputFree.store(input.writableCount, ordering: .relaxed)
        p.inputCapacity.store(input.capacity, ordering: .relaxed)
        p.outputPending.store(output.readableCount, ordering: .relaxed)
        p.outputCapacity.store(output.capacity, ordering: .relaxed)
        p.events.store((readPaused ? 0 : 1) | (wantsWrite ? 2 : 0), ordering: .relaxed)
        p.protocolVersion.store(reply.protocolVersion, ordering: .relaxed)
    }
}
