import RESP
import XCTest

/// RequestParser.peekSecondArgument: the next request's key when its first two arguments are
/// in the buffer, nil for anything else, never reading past the buffer.
final class PeekTests: XCTestCase {
    func peek(_ text: String) -> String? {
        let b = ByteBuffer(capacity: 64)
        b.append(Array(text.utf8))
        guard let key = RequestParser.peekSecondArgument(b) else { return nil }
        return String(decoding: key, as: UTF8.self)
    }

    func testFindsTheKeyOfACompleteOrPartlyReceivedRequest() {
        XCTAssertEqual(peek("*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"), "key:1")
        XCTAssertEqual(peek("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nonly-th"), "k")
        XCTAssertEqual(peek("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), "")
    }

    func testNothingWhenTheKeyIsNotAllThereOrThereIsNone() {
        for text in ["", "*", "*2\r\n$3\r\nGET\r\n$5\r\nkey", "*2\r\n$3\r\nGET\r\n$5", "*2\r\n$3\r\nGE",
                     "*1\r\n$4\r\nPING\r\n", "GET key\r\n", "*2\r\n$3\r\nGET\r\n:5\r\nkey:1\r\n",
                     "*2\r\n$9999999999\r\nGET\r\n", "*2\r\n$-1\r\n", "*x\r\n"] {
            XCTAssertNil(peek(text), text.debugDescription)
        }
    }
}
