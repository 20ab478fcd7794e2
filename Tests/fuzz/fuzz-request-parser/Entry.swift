import Fuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    RequestParserTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
enum Main {
    static func main() {
        FuzzMain.main(fuzzRequestParser, seeds: RequestParserTarget.seeds, extraSeeds: { RequestParserTarget.boundarySeeds },
                      describe: RequestParserTarget.describe)
    }
}
