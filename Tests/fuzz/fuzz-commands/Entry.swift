import Fuzzing

// libFuzzer calls in from one thread.
nonisolated(unsafe) let target = CommandTarget()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommands(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// DEBUG SLEEP stops the server for up to an hour. The server's code is linked into this binary,
// so this definition takes the place of libc's usleep: the command runs its whole path and
// returns at once instead of stalling the fuzzer on purpose.
@_cdecl("usleep")
public func skipSleep(_ microseconds: UInt32) -> Int32 { 0 }

@main
enum Main {
    static func main() { FuzzMain.main(fuzzCommands, seeds: { target.seeds($0) }, describe: { target.describe($0) }) }
}

#if FUZZING
@_cdecl("LLVMFuzzerCustomMutator")
public func mutateCommands(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    return target.mutate(data, size: size, maxSize: maxSize, seed: seed)
}
#endif
