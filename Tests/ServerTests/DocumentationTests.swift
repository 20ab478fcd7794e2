import Foundation
import TagCache
import XCTest

/// What README.md and conf/tagcache.conf claim, checked against the code and a running server,
/// so the documents cannot drift from what they describe.
final class DocumentationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func read(_ path: String) throws -> String {
        try String(contentsOf: DocumentationTests.root.appendingPathComponent(path), encoding: .utf8)
    }

    // MARK: conf/tagcache.conf

    /// Every directive is in the file once: TagCache's and the Redis ones it acts on as a line
    /// of their own under a comment marked "CONFIG SET: yes." or "no." as CONFIG SET allows;
    /// the Redis parameters TagCache only accepts, commented out under REDIS COMPATIBILITY,
    /// "(startup only" exactly where CONFIG SET refuses them. The file loads, and its values are
    /// the defaults, as it says.
    func testConfFileDocumentsEveryDirectiveWithItsCONFIGSETMark() throws {
        let text = try read("conf/tagcache.conf")
        let lines = text.components(separatedBy: "\n")
        guard let compatibility = lines.firstIndex(where: { $0.contains("REDIS COMPATIBILITY") }) else {
            return XCTFail("no REDIS COMPATIBILITY section")
        }
        var documented: [String: Int] = [:]
        var active: Set<String> = []
        // Above the compatibility section: paragraphs of comments, then directive lines.
        var mark: String?
        for line in lines[..<compatibility] {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                mark = nil
                continue
            }
            if line.hasPrefix("#") {
                if line.contains("CONFIG SET: yes.") { mark = "yes" }
                if line.contains("CONFIG SET: no.") { mark = "no" }
                continue
            }
            let name = String(line.prefix { $0 != " " })
            guard let d = Config.directive(name) else {
                XCTFail("conf line for an unknown directive: \(line)")
                continue
            }
            documented[d.name, default: 0] += 1
            active.insert(d.name)
            XCTAssertEqual(mark, d.mutable ? "yes" : "no", "\(name): its comment's CONFIG SET mark")
        }
        // The compatibility section: "# name value   (notes)"; prose lines that start with a
        // directive's name are told apart by their value, which is not one.
        for line in lines[compatibility...] where line.hasPrefix("# ") {
            let entry = line.dropFirst(2).replacing(/\s{2,}\(.*$/, with: "")
            let name = String(entry.prefix { $0 != " " })
            var value = String(entry.dropFirst(name.count + 1))
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard let d = Config.directive(name), d.name == name,
                  value.hasPrefix("<") || (try? d.normalize(value).get()) != nil else { continue }
            documented[d.name, default: 0] += 1
            XCTAssertEqual(line.contains("(startup only"), !d.mutable,
                           "\(d.name): marked startup only exactly when CONFIG SET refuses it")
            // What is listed here is what TagCache does not act on.
            XCTAssertTrue(d.summary.contains("accepted for compatibility") || Self.acceptedOnly.contains(d.name),
                          "\(d.name) works, so it belongs above REDIS COMPATIBILITY, not among the accepted-only parameters")
        }
        for d in Config.directives {
            XCTAssertEqual(documented[d.name], 1, "\(d.name) documented once in conf/tagcache.conf")
        }
        // The directives TagCache acts on are all above the compatibility section.
        for d in Config.directives where !d.summary.contains("accepted for compatibility") && !Self.acceptedOnly.contains(d.name) {
            XCTAssertTrue(active.contains(d.name), "\(d.name) works: it needs its own line above REDIS COMPATIBILITY")
        }
        let loaded = Config()
        let path = DocumentationTests.root.appendingPathComponent("conf/tagcache.conf").path
        XCTAssertNoThrow(try ConfigFile.load(arguments: [path], into: loaded))
        let defaults = Config()
        for d in Config.directives {
            XCTAssertEqual(loaded.value(d), defaults.value(d), "\(d.name): the file gives its default")
        }
    }

    /// Compatibility parameters whose summary says more than "accepted for compatibility":
    /// each only refuses what TagCache lacks (cluster-enabled, activedefrag) or guards the
    /// file names no snapshot is written to (dir, dbfilename and their switch).
    static let acceptedOnly: Set<String> = ["cluster-enabled", "activedefrag", "enable-protected-configs", "dir",
                                            "dbfilename", "appendfilename", "appenddirname"]

    // MARK: README.md

    /// The "Supported commands" table names exactly the server's commands; where a command has
    /// subcommands, its parentheses list exactly those; other parentheses list options, which
    /// only a command taking a variable number of arguments can have (EXPIRETIME cannot).
    func testReadmeCommandTableIsTheServersCommandTable() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        let listed = try c.command("COMMAND", "LIST").components(separatedBy: "\r\n")
            .filter { !$0.isEmpty && !$0.hasPrefix("*") && !$0.hasPrefix("$") }
        let topLevel = Set(listed.filter { !$0.contains("|") }.map { $0.uppercased() })
        var subcommands: [String: Set<String>] = [:]
        for name in listed where name.contains("|") {
            let parts = name.uppercased().split(separator: "|")
            subcommands[String(parts[0]), default: []].insert(String(parts[1]))
        }
        XCTAssertEqual(try c.command("COMMAND", "COUNT"), ":\(topLevel.count)\r\n")

        let readme = try read("README.md")
        guard let start = readme.range(of: "## Supported commands"),
              let end = readme.range(of: "\n## ", range: start.upperBound..<readme.endIndex) else {
            return XCTFail("no Supported commands section")
        }
        var inTable: Set<String> = []
        for row in readme[start.upperBound..<end.lowerBound].components(separatedBy: "\n")
        where row.hasPrefix("| ") && !row.hasPrefix("| group") && !row.hasPrefix("| ---") {
            let cells = row.components(separatedBy: " | ")
            guard cells.count >= 2 else { continue }
            let cell = cells[1].components(separatedBy: " — ")[0].replacingOccurrences(of: " |", with: "")
            for (name, options) in Self.items(cell) {
                XCTAssertFalse(inTable.contains(name), "\(name) listed twice")
                inTable.insert(name)
                XCTAssertTrue(topLevel.contains(name), "README lists \(name), which the server does not have")
                guard !options.isEmpty else { continue }
                if let subs = subcommands[name] {
                    XCTAssertEqual(Set(options), subs, "\(name)'s subcommands")
                } else {
                    let info = try c.command("COMMAND", "INFO", name)
                    let arity = info.components(separatedBy: "\r\n").first { $0.hasPrefix(":") }.flatMap { Int($0.dropFirst()) }
                    XCTAssertLessThan(arity ?? 0, 0, "\(name) takes a fixed number of arguments: no options \(options)")
                }
            }
        }
        XCTAssertEqual(inTable.symmetricDifference(topLevel), [], "commands the table and the server disagree on")
        // A number of commands, if the README gives one, is the server's.
        for m in readme.matches(of: /([0-9][0-9,]*) commands( and subcommands)?/) {
            let n = Int(m.1.replacingOccurrences(of: ",", with: ""))
            XCTAssertEqual(n, m.2 == nil ? topLevel.count : listed.count, "README: \(m.0)")
        }
    }

    /// "NAME (A, B, C), NAME2, ..." -> [(NAME, [A, B, C]), (NAME2, [])]; only capitalised words
    /// count inside the parentheses ("GET, and TagCache's TAGS" -> GET, TAGS).
    static func items(_ cell: String) -> [(String, [String])] {
        var out: [(String, [String])] = []
        var depth = 0
        var current = ""
        for ch in cell + "," {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == "," && depth == 0 {
                let item = current.trimmingCharacters(in: .whitespaces)
                current = ""
                guard !item.isEmpty else { continue }
                let name = String(item.prefix { $0 != " " && $0 != "(" })
                var options: [String] = []
                if let open = item.firstIndex(of: "("), let close = item.lastIndex(of: ")") {
                    options = item[item.index(after: open)..<close].matches(of: /\b[A-Z][A-Z0-9-]+\b/).map { String($0.0) }
                }
                out.append((name, options))
            } else {
                current.append(ch)
            }
        }
        return out
    }

    /// Where README says INFO's tags section appears, it appears, and where it says it does
    /// not, it does not.
    func testReadmeSaysWhereINFOTagsAppears() throws {
        let readme = try read("README.md")
        guard let line = readme.range(of: "`INFO tags` (also in ") else { return XCTFail("no INFO tags sentence") }
        let sentence = readme[line.upperBound...].prefix { $0 != ")" }
        let parts = sentence.components(separatedBy: ";")
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        func invocations(_ text: String) -> [[String]] {
            text.matches(of: /`(INFO[^`]*)`/).map { $0.1.split(separator: " ").map(String.init) }
        }
        guard parts.count == 2 else { return XCTFail("expected \"also in ...; ... left out\": \(sentence)") }
        for words in invocations(parts[0]) {
            XCTAssertTrue(try c.commandBytes(words.map { Array($0.utf8) }).contains(Array("# Tags".utf8)), "\(words)")
        }
        XCTAssertEqual(invocations(parts[1]), [["INFO"]])
        XCTAssertFalse(try c.command("INFO").contains("# Tags"))
    }
}

private extension Array where Element: Equatable {
    func contains(_ needle: [Element]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
