import RESP
import XCTest

final class ByteBufferTests: XCTestCase {
    func testDeferredBufferTakesNoMemoryUntilWritten() {
        let b = ByteBuffer(deferredCapacity: 4096)
        XCTAssertEqual(b.capacity, 0)
        XCTAssertTrue(b.isEmpty)
        XCTAssertEqual(b.readableBytes.count, 0)
        b.append("PING")
        XCTAssertEqual(b.capacity, 4096)
        XCTAssertEqual(b.readableArray(), Array("PING".utf8))
        // A first write larger than the first capacity gets what it needs.
        let c = ByteBuffer(deferredCapacity: 4096)
        c.append([UInt8](repeating: 1, count: 10_000))
        XCTAssertGreaterThanOrEqual(c.capacity, 10_000)
        XCTAssertEqual(c.readableCount, 10_000)
    }

    func testReleaseGivesBackOnlyADrainedBuffer() {
        let b = ByteBuffer(capacity: 1024)
        b.append("abc")
        XCTAssertFalse(b.release(), "bytes remain")
        XCTAssertEqual(b.capacity, 1024)
        b.readIndex += 3
        XCTAssertTrue(b.release())
        XCTAssertEqual(b.capacity, 0)
        XCTAssertEqual(b.readIndex, 0)
        XCTAssertEqual(b.writeIndex, 0)
        // Usable again: the next write allocates the first capacity.
        b.appendDecimal(-42)
        XCTAssertEqual(b.capacity, 1024)
        XCTAssertEqual(b.readableArray(), Array("-42".utf8))
        b.readIndex = b.writeIndex
        XCTAssertTrue(b.release())
        XCTAssertTrue(b.release(), "releasing a buffer without storage is harmless")
    }

    func testClearFreesAGrownBuffer() {
        let b = ByteBuffer(capacity: 1024)
        b.append([UInt8](repeating: 7, count: 100_000))
        b.clear(shrinkTo: 64 * 1024)
        XCTAssertEqual(b.capacity, 0)
        b.append([UInt8](repeating: 7, count: 10))
        XCTAssertEqual(b.capacity, 1024)
        b.clear(shrinkTo: 64 * 1024)
        XCTAssertEqual(b.capacity, 1024, "a small buffer is kept for the next request")
    }

    func testBorrowedStorageIsUsedThenGivenBack() {
        let block = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        defer { block.deallocate() }
        let b = ByteBuffer(deferredCapacity: 64)
        XCTAssertTrue(b.borrow(block, count: 256))
        XCTAssertTrue(b.isBorrowed)
        XCTAssertEqual(b.capacity, 256)
        b.append("hello")
        XCTAssertEqual(block[0], UInt8(ascii: "h"), "writes go to the borrowed block")
        b.readIndex = b.writeIndex
        b.giveBack()
        XCTAssertFalse(b.isBorrowed)
        XCTAssertEqual(b.capacity, 0, "drained: nothing of its own")

        // Unread bytes move to storage of the buffer's own; the block is free for others.
        XCTAssertTrue(b.borrow(block, count: 256))
        b.append("partial request")
        b.readIndex = 8
        b.giveBack()
        XCTAssertFalse(b.isBorrowed)
        XCTAssertEqual(b.capacity, 64)
        XCTAssertNotEqual(b.base, block)
        XCTAssertEqual(b.readableArray(), Array("request".utf8))
        memset(block, 0, 256)
        XCTAssertEqual(b.readableArray(), Array("request".utf8))

        // A buffer with storage of its own does not borrow.
        XCTAssertFalse(b.borrow(block, count: 256))
        XCTAssertEqual(b.capacity, 64)
    }

    func testGrowingOutOfABorrowedBlockCopiesAndLeavesTheBlock() {
        let block = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
        defer { block.deallocate() }
        let b = ByteBuffer(deferredCapacity: 64)
        b.borrow(block, count: 128)
        b.append([UInt8](repeating: 1, count: 100))
        b.append([UInt8](repeating: 2, count: 100))
        XCTAssertFalse(b.isBorrowed)
        XCTAssertGreaterThanOrEqual(b.capacity, 200)
        XCTAssertEqual(b.readableArray(), [UInt8](repeating: 1, count: 100) + [UInt8](repeating: 2, count: 100))
        b.giveBack()
        XCTAssertEqual(b.readableCount, 200, "no longer borrowed: giveBack leaves it alone")
        // Discarding a borrowing buffer detaches it without freeing the owner's block (which the
        // deferred deallocate above would then free twice).
        let c = ByteBuffer(deferredCapacity: 64)
        c.borrow(block, count: 128)
        c.append("x")
        c.discard()
        XCTAssertEqual(c.capacity, 0)
        XCTAssertFalse(c.isBorrowed)
    }
}
