/// ITU-T G.711 μ-law (PCMU) and A-law (PCMA), bit-exact with the reference implementation
/// (Sun's g711.c, which CPython's `audioop` also uses — the tests compare all 65,536 inputs).
///
/// Encoding and decoding are table lookups: 256-entry decode tables and 16,384/8,192-entry encode
/// tables indexed by the 14-/13-bit sample, built once from the reference algorithm.
public enum G711 {
    // MARK: μ-law

    @inline(__always)
    public static func ulawEncode(_ sample: Int16) -> UInt8 { ulawEncodeTable[Int(sample >> 2) + 8192] }

    @inline(__always)
    public static func ulawDecode(_ code: UInt8) -> Int16 { ulawDecodeTable[Int(code)] }

    // MARK: A-law

    @inline(__always)
    public static func alawEncode(_ sample: Int16) -> UInt8 { alawEncodeTable[Int(sample >> 3) + 4096] }

    @inline(__always)
    public static func alawDecode(_ code: UInt8) -> Int16 { alawDecodeTable[Int(code)] }

    // MARK: buffers (no allocation: callers own both sides)

    public static func encode(_ law: Law, _ pcm: UnsafeBufferPointer<Int16>, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count >= pcm.count)
        switch law {
        case .ulaw: ulawEncodeTable.withUnsafeBufferPointer { t in for i in 0..<pcm.count { out[i] = t[Int(pcm[i] >> 2) + 8192] } }
        case .alaw: alawEncodeTable.withUnsafeBufferPointer { t in for i in 0..<pcm.count { out[i] = t[Int(pcm[i] >> 3) + 4096] } }
        }
    }

    public static func decode(_ law: Law, _ codes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<Int16>) {
        precondition(out.count >= codes.count)
        let table = law == .ulaw ? ulawDecodeTable : alawDecodeTable
        table.withUnsafeBufferPointer { t in for i in 0..<codes.count { out[i] = t[Int(codes[i])] } }
    }

    public enum Law: Sendable {
        case ulaw, alaw
        /// The code for digital silence (what a muted line carries).
        public var silence: UInt8 { self == .ulaw ? 0xFF : 0xD5 }
    }

    // MARK: the reference algorithm, used to build the tables

    static let ulawEncodeTable: [UInt8] = (0..<16384).map { ulawEncodeReference(Int16($0 - 8192)) }
    static let alawEncodeTable: [UInt8] = (0..<8192).map { alawEncodeReference(Int16($0 - 4096)) }
    static let ulawDecodeTable: [Int16] = (0..<256).map { ulawDecodeReference(UInt8($0)) }
    static let alawDecodeTable: [Int16] = (0..<256).map { alawDecodeReference(UInt8($0)) }

    private static let segUEnd: [Int16] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
    private static let segAEnd: [Int16] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]

    private static func segment(_ value: Int16, _ table: [Int16]) -> Int {
        for (i, end) in table.enumerated() where value <= end { return i }
        return table.count
    }

    /// 14-bit two's complement sample → μ-law code (g711.c `linear2ulaw`, as audioop feeds it `sample >> 2`).
    static func ulawEncodeReference(_ sample14: Int16) -> UInt8 {
        var pcm = sample14
        let mask: UInt8
        if pcm < 0 {
            pcm = -pcm
            mask = 0x7F
        } else {
            mask = 0xFF
        }
        if pcm > 8159 { pcm = 8159 }  // clip
        pcm += 0x84 >> 2  // bias
        let seg = segment(pcm, segUEnd)
        if seg >= 8 { return 0x7F ^ mask }
        let code = UInt8(seg << 4) | UInt8((Int(pcm) >> (seg + 1)) & 0xF)
        return code ^ mask
    }

    static func ulawDecodeReference(_ code: UInt8) -> Int16 {
        let u = ~code
        var t = (Int(u & 0x0F) << 3) + 0x84
        t <<= Int(u & 0x70) >> 4
        return Int16((u & 0x80) != 0 ? 0x84 - t : t - 0x84)
    }

    /// 13-bit two's complement sample → A-law code (g711.c `linear2alaw`, fed `sample >> 3`).
    static func alawEncodeReference(_ sample13: Int16) -> UInt8 {
        var pcm = sample13
        let mask: UInt8
        if pcm >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            pcm = -pcm - 1
        }
        let seg = segment(pcm, segAEnd)
        if seg >= 8 { return 0x7F ^ mask }
        var code = UInt8(seg << 4)
        code |= seg < 2 ? UInt8((Int(pcm) >> 1) & 0xF) : UInt8((Int(pcm) >> seg) & 0xF)
        return code ^ mask
    }

    static func alawDecodeReference(_ code: UInt8) -> Int16 {
        let a = code ^ 0x55
        var t = Int(a & 0x0F) << 4
        let seg = Int(a & 0x70) >> 4
        switch seg {
        case 0: t += 8
        case 1: t += 0x108
        default:
            t += 0x108
            t <<= seg - 1
        }
        return Int16((a & 0x80) != 0 ? t : -t)
    }
}
