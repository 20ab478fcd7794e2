import CaseFiles
#if FUZZING
import CLibFuzzer
#endif
import Foundation

/// A libFuzzer entry point: LLVMFuzzerTestOneInput's type.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// The fuzz executables' main:
///
///     fuzz-commands --seeds CASES OUT       writes seeds made from the case files in CASES to OUT
///     fuzz-commands --print FILE...         shows what inputs (a crash, say) send, one request a line
///
/// Built for fuzzing (`-sanitize=fuzzer,address -DFUZZING`, see Tests/run.sh), anything else is
/// libFuzzer's command line. Built plainly (`swift build`), the executables replay inputs without
/// sanitizers, to reproduce a crash or check a corpus:
///
///     fuzz-commands FILE|DIR...
public enum FuzzMain {
    /// `seeds` turns one case file's cases into seeds; `extraSeeds` are written once besides.
    /// LeakSanitizer checks at exit, which libFuzzer's driver calls from inside this function:
    /// the arguments must hold nothing on the heap (no captures, no arrays).
    public static func main(_ callback: FuzzCallback, seeds: ([CaseLine]) -> [[UInt8]],
                            extraSeeds: () -> [[UInt8]] = { [] },
                            describe: (UnsafeRawBufferPointer) -> String) -> Never {
        do {
            try ownCommands(seeds: seeds, extraSeeds: extraSeeds, describe: describe)
            #if FUZZING
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
            #else
            try replay(callback)
            exit(0)
            #endif
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(1)
        }
    }

    /// --seeds and --print (they exit); returns for anything else.
    static func ownCommands(seeds: ([CaseLine]) -> [[UInt8]], extraSeeds: () -> [[UInt8]],
                            describe: (UnsafeRawBufferPointer) -> String) throws {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--seeds" {
            guard args.count == 3 else { usage() }
            let cases = URL(fileURLWithPath: args[1]), out = URL(fileURLWithPath: args[2])
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            var written = 0
            for name in try CaseFile.names(in: cases) {
                let text = try String(contentsOf: cases.appendingPathComponent(name), encoding: .utf8)
                let stem = name.replacingOccurrences(of: ".txt", with: "")
                for (i, seed) in seeds(CaseFile.parse(text).cases).enumerated() {
                    try Data(seed).write(to: out.appendingPathComponent("\(stem)-\(i)"))
                    written += 1
                }
            }
            for (i, seed) in extraSeeds().enumerated() {
                try Data(seed).write(to: out.appendingPathComponent("extra-\(i)"))
                written += 1
            }
            print("\(written) seeds in \(out.path)")
            exit(0)
        }
        if args.first == "--print" {
            for f in args.dropFirst() {
                let data = try Data(contentsOf: URL(fileURLWithPath: f))
                print("\(f):")
                print(data.withUnsafeBytes { describe($0) })
            }
            exit(0)
        }
    }

    /// Runs every input named (files, or every file of a directory) once.
    static func replay(_ callback: FuzzCallback) throws {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.isEmpty || args.first?.hasPrefix("-") == true { usage() }
        var files: [URL] = []
        for a in args {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: a, isDirectory: &isDirectory) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: a])
            }
            if isDirectory.boolValue {
                let dir = URL(fileURLWithPath: a)
                files += try FileManager.default.contentsOfDirectory(atPath: a).sorted().map { dir.appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: a))
            }
        }
        for f in files {
            let data = try Data(contentsOf: f)
            _ = data.withUnsafeBytes { callback($0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) }
        }
        print("ran \(files.count) inputs")
    }

    static func usage() -> Never {
        let me = (CommandLine.arguments.first ?? "fuzz").split(separator: "/").last ?? ""
        FileHandle.standardError.write(Data("usage: \(me) FILE|DIR...  |  --seeds CASES_DIR OUT_DIR  |  --print FILE...\n".utf8))
        exit(2)
    }
}
