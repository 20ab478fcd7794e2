/// Redis's glob matcher (stringmatchlen): `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes, with the
/// same corner cases, so KEYS, SCAN MATCH and CONFIG GET select exactly what Redis selects.
public enum GlobPattern {
    public static func matches(pattern: [UInt8], _ string: [UInt8], ignoreCase: Bool = false) -> Bool {
        pattern.withUnsafeBufferPointer { p in
            string.withUnsafeBufferPointer { s in matches(pattern: p, s, ignoreCase: ignoreCase) }
        }
    }

    public static func matches(pattern: UnsafeBufferPointer<UInt8>, _ string: UnsafeBufferPointer<UInt8>,
                               ignoreCase: Bool = false) -> Bool {
        // "*" alone matches everything: the common SCAN/KEYS case.
        if pattern.count == 1 && pattern[0] == 42 { return true }
        var skipLonger = false
        return match(pattern, 0, string, 0, ignoreCase, &skipLonger, 0)
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
    @inline(__always) static func lowerSigned(_ c: Int8) -> Int8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    private static func match(_ p: UnsafeBufferPointer<UInt8>, _ pi0: Int, _ s: UnsafeBufferPointer<UInt8>, _ si0: Int,
                              _ nocase: Bool, _ skipLonger: inout Bool, _ nesting: Int) -> Bool {
        if nesting > 1000 { return false }
        var pi = pi0, si = si0
        let pn = p.count, sn = s.count
        while pi < pn && si < sn {
            switch p[pi] {
            case 42: // '*'
                while pi + 1 < pn && p[pi + 1] == 42 { pi += 1 }
                if pi + 1 == pn { return true }
                while si < sn {
                    if match(p, pi + 1, s, si, nocase, &skipLonger, nesting + 1) { return true }
                    if skipLonger { return false }
                    si += 1
                }
                skipLonger = true
                return false
            case 63: // '?'
                si += 1
            case 91: // '['
                pi += 1
                let not = pi < pn && p[pi] == 94
                if not { pi += 1 }
                var matched = false
                while true {
                    if pi < pn && p[pi] == 92 && pn - pi >= 2 {
                        pi += 1
                        if p[pi] == s[si] { matched = true }
                    } else if pi < pn && p[pi] == 93 {
                        break
                    } else if pi >= pn {
                        pi -= 1
                        break
                    } else if pn - pi >= 3 && p[pi + 1] == 45 {
                        // Redis compares range ends as (signed) char, so bytes >= 0x80 sort first.
                        var start = Int8(bitPattern: p[pi]), end = Int8(bitPattern: p[pi + 2])
                        var c = Int8(bitPattern: s[si])
                        if start > end { swap(&start, &end) }
                        if nocase { start = lowerSigned(start); end = lowerSigned(end); c = lowerSigned(c) }
                        pi += 2
                        if c >= start && c <= end { matched = true }
                    } else if nocase ? lower(p[pi]) == lower(s[si]) : p[pi] == s[si] {
                        matched = true
                    }
                    pi += 1
                }
                if not { matched = !matched }
                if !matched { return false }
                si += 1
            case 92 where pn - pi >= 2: // '\\'
                pi += 1
                if nocase ? lower(p[pi]) != lower(s[si]) : p[pi] != s[si] { return false }
                si += 1
            default:
                if nocase ? lower(p[pi]) != lower(s[si]) : p[pi] != s[si] { return false }
                si += 1
            }
            pi += 1
            if si == sn {
                while pi < pn && p[pi] == 42 { pi += 1 }
                break
            }
        }
        return pi == pn && si == sn
    }
}
