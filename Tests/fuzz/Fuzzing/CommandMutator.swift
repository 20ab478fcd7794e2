#if FUZZING
import CLibFuzzer
#endif
import Commands

/// libFuzzer's custom mutator for command programs (CommandProgram): half of the mutations know
/// the structure (an argument becomes a boundary number, a token, a key or a random integer; a
/// step goes to another command or connection, gets one more argument, is copied, dropped or
/// moved), the other half are libFuzzer's own byte mutations, which find what the structure
/// does not know. Swapping "-5" for "-9223372036854775807" in a seed is one step here and a
/// long way by bytes.
enum CommandMutator {
    static func mutate(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int, seed: UInt32,
                       specs: [CommandSpec]) -> Int {
        var rng = Random(seed)
        if rng.below(2) == 0 { return byteMutation(data, size: size, maxSize: maxSize) }
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        var program = bytes.withUnsafeBytes { CommandProgram($0, specs: specs) }
        program.recordsLayout = true
        while program.next() != nil {}
        let layout = program.layout
        guard !layout.isEmpty else { return byteMutation(data, size: size, maxSize: maxSize) }
        let (step, arguments) = layout[rng.below(layout.count)]
        var out = bytes
        switch rng.below(8) {
        case 0, 1, 2:
            guard !arguments.isEmpty else { return byteMutation(data, size: size, maxSize: maxSize) }
            out.replaceSubrange(arguments[rng.below(arguments.count)], with: argument(&rng))
        case 3:
            let selector = rng.below(specs.count + 2)
            out[step.lowerBound + 1] = UInt8(selector & 0xFF)
            out[step.lowerBound + 2] = UInt8(selector >> 8)
            // The same count in the fixed form: the arguments stay the step's own.
            out[step.lowerBound + 3] = 0x80 | UInt8(min(arguments.count, 0x3F))
        case 4:
            out[step.lowerBound] = UInt8(rng.below(3))
        case 5:
            guard arguments.count < 0x3F else { return byteMutation(data, size: size, maxSize: maxSize) }
            out.insert(contentsOf: argument(&rng), at: step.upperBound)
            out[step.lowerBound + 3] = 0x80 | UInt8(arguments.count + 1)
        case 6:
            let other = layout[rng.below(layout.count)].step
            out.insert(contentsOf: bytes[step], at: rng.below(2) == 0 ? other.lowerBound : other.upperBound)
        default:
            out.removeSubrange(step)
        }
        guard out.count <= maxSize, !out.isEmpty else { return byteMutation(data, size: size, maxSize: maxSize) }
        out.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: out.count) }
        return out.count
    }

    /// An argument in CommandProgram's encoding, weighted to what finds overflows.
    static func argument(_ rng: inout Random) -> [UInt8] {
        switch rng.below(6) {
        case 0, 1: return [2, UInt8(rng.below(CommandProgram.numbers.count))]
        case 2:
            let t = rng.below(CommandProgram.tokens.count)
            return [3, UInt8(t & 0xFF), UInt8(t >> 8)]
        case 3: return [UInt8(1 + 8 * rng.below(CommandProgram.keys.count))]
        case 4: return [4, UInt8(rng.below(256))]
        default: return [5] + (0..<8).map { _ in UInt8(rng.below(256)) }
        }
    }

    static func byteMutation(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int) -> Int {
        #if FUZZING
        return LLVMFuzzerMutate(data, size, maxSize)
        #else
        return size
        #endif
    }

    /// xorshift32, from libFuzzer's seed: the same seed makes the same mutation.
    struct Random {
        var state: UInt32
        init(_ seed: UInt32) { state = seed | 1 }
        mutating func below(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            return Int(state % UInt32(max(n, 1)))
        }
    }
}
