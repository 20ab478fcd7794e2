import RESP

/// A reply whose length the request sets rather than the stored data: SRANDMEMBER and
/// HRANDFIELD with a negative count repeat members as often as asked, COMMAND INFO and COMMAND
/// DOCS describe a command as often as it is named. Redis 7.0 builds any such reply
/// (`SRANDMEMBER s -9223372036854775807` grows until memory runs out, its event loop stuck
/// meanwhile; a million names to COMMAND DOCS ask for 8 GB); TagCache holds it to
/// `count-reply-max-bytes`. A reply that cannot fit is refused before anything is written, and
/// one that outgrows the budget while it is written is taken back and replaced by the same
/// error, so the loop moves on to its other clients after at most that many bytes of work.
public struct CountedReply {
    /// count-reply-max-bytes when the server does not say (also the directive's default).
    public static let defaultMaxBytes = 64 * 1024 * 1024

    private let reply: ReplyWriter
    /// Where the reply starts, counted from the buffer's read position (which stays put while a
    /// command runs; growing the buffer moves both).
    private let start: Int
    private let limit: Int

    /// Begins a reply of `elements` elements of at least `bytesEach` bytes each; nil, after
    /// replying with the error, when that cannot fit the budget.
    init?(_ ctx: CommandContext, elements: Int, bytesEach: Int) {
        reply = ctx.reply
        start = reply.out.readableCount
        // One element is as large as the data it shows, no more: no budget to look up.
        let configured = elements <= 1 ? 0 : ctx.server.countReplyMaxBytes
        limit = configured > 0 ? configured : Int.max
        let (least, overflow) = elements.multipliedReportingOverflow(by: bytesEach)
        if overflow || least > limit {
            CountedReply.refuse(reply, limit)
            return nil
        }
    }

    /// True, after taking back what was written and replying with the error, once the reply
    /// has grown past the budget.
    @inline(__always)
    func exceeded() -> Bool {
        let out = reply.out
        if out.readableCount - start <= limit { return false }
        out.writeIndex = out.readIndex + start
        CountedReply.refuse(reply, limit)
        return true
    }

    private static func refuse(_ reply: ReplyWriter, _ limit: Int) {
        reply.error("ERR the reply would exceed count-reply-max-bytes (\(limit) bytes)")
    }

    /// The fewest bytes a bulk string takes (`$0\r\n\r\n`).
    static let leastBulk = 6
}
