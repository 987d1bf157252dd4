import COpus
import SiphonCore

/// Opus encoder over libopus (mono, 20 ms frames, VoIP tuning). FEC, expected loss, DTX and
/// bitrate are set through the shim's wrappers for the variadic `opus_encoder_ctl`.
public final class OpusEncoder {
    public struct Settings: Sendable, Equatable {
        public var bitrate: Int = 24_000
        public var complexity: Int = 5
        /// In-band forward error correction: the next packet carries a low-rate copy of this one.
        public var fec: Bool = true
        /// Loss the encoder plans for (FEC only kicks in above 0).
        public var expectedLossPercent: Int = 5
        /// Discontinuous transmission: near-empty packets during silence.
        public var dtx: Bool = false
        public init() {}
    }

    public let sampleRate: Int
    public let frameSamples: Int
    private let encoder: OpaquePointer

    /// One 20 ms frame of silence at any decoder rate without an encode: CELT fullband, mono, its
    /// silence flag set (RFC 6716 §3.1 TOC 0xF8), the silence frame voice services (Discord's) send.
    public static let silenceFrame: [UInt8] = [0xF8, 0xFF, 0xFE]
    /// Frames of silence a stream codes after speech (the voice decays through the codec) before
    /// it sends `silenceFrame` instead.
    public static let codedSilenceFrames = 10

    public init(sampleRate: Int, settings: Settings = Settings()) throws {
        guard [8000, 12000, 16000, 24000, 48000].contains(sampleRate) else {
            throw SiphonError.invalid("Opus does not run at \(sampleRate) Hz")
        }
        var err: Int32 = 0
        guard let e = opus_encoder_create(Int32(sampleRate), 1, OPUS_APPLICATION_VOIP, &err), err == OPUS_OK else {
            throw SiphonError(.internal, "opus_encoder_create: \(String(cString: opus_strerror(err)))")
        }
        encoder = e
        self.sampleRate = sampleRate
        frameSamples = sampleRate / 50
        try check(siphon_opus_set_bitrate(e, Int32(settings.bitrate)), "bitrate \(settings.bitrate)")
        try check(siphon_opus_set_complexity(e, Int32(settings.complexity)), "complexity")
        try check(siphon_opus_set_inband_fec(e, settings.fec ? 1 : 0), "inband FEC")
        try check(siphon_opus_set_packet_loss_perc(e, Int32(settings.expectedLossPercent)), "packet loss percentage")
        try check(siphon_opus_set_dtx(e, settings.dtx ? 1 : 0), "DTX")
        try check(siphon_opus_set_signal_voice(e), "signal type")
    }

    deinit { opus_encoder_destroy(encoder) }

    public var bitrate: Int {
        var v: Int32 = 0
        _ = siphon_opus_get_bitrate(encoder, &v)
        return Int(v)
    }

    /// Encodes one 20 ms frame into `packet` (1275 bytes is always enough); returns the packet length.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into packet: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        precondition(pcm.count == frameSamples, "Opus frames here are 20 ms")
        let n = opus_encode(encoder, pcm.baseAddress!, Int32(frameSamples), packet.baseAddress!, Int32(packet.count))
        if n < 0 { throw SiphonError(.internal, "opus_encode: \(String(cString: opus_strerror(n)))") }
        return Int(n)
    }

    public func encode(_ pcm: [Int16]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1275)
        let n = try pcm.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { try encode(p, into: $0) } }
        return Array(out.prefix(n))
    }

    private func check(_ rc: Int32, _ what: String) throws {
        if rc != OPUS_OK { throw SiphonError.invalid("Opus \(what): \(String(cString: opus_strerror(rc)))") }
    }
}

/// Opus decoder with packet loss concealment (decode `nil`) and FEC recovery from the next packet.
public final class OpusDecoder {
    public let sampleRate: Int
    public let frameSamples: Int
    private let decoder: OpaquePointer

    public init(sampleRate: Int) throws {
        guard [8000, 12000, 16000, 24000, 48000].contains(sampleRate) else {
            throw SiphonError.invalid("Opus does not run at \(sampleRate) Hz")
        }
        var err: Int32 = 0
        guard let d = opus_decoder_create(Int32(sampleRate), 1, &err), err == OPUS_OK else {
            throw SiphonError(.internal, "opus_decoder_create: \(String(cString: opus_strerror(err)))")
        }
        decoder = d
        self.sampleRate = sampleRate
        frameSamples = sampleRate / 50
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes a packet into `pcm` (one 20 ms frame). `packet == nil` conceals a lost frame; with
    /// `fec`, `packet` is the *next* packet and its redundant copy of the lost frame is decoded.
    /// A malformed packet throws; the decoder stays usable.
    @discardableResult
    public func decode(_ packet: UnsafeBufferPointer<UInt8>?, fec: Bool = false, into pcm: UnsafeMutableBufferPointer<Int16>) throws -> Int {
        precondition(pcm.count >= frameSamples)
        let n = opus_decode(decoder, packet?.baseAddress, Int32(packet?.count ?? 0), pcm.baseAddress!, Int32(frameSamples), fec ? 1 : 0)
        if n < 0 { throw SiphonError.invalid("opus_decode: \(String(cString: opus_strerror(n)))") }
        return Int(n)
    }

    public func decode(_ packet: [UInt8]?, fec: Bool = false) throws -> [Int16] {
        var out = [Int16](repeating: 0, count: frameSamples)
        if let packet {
            _ = try packet.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { try decode(p, fec: fec, into: $0) } }
        } else {
            _ = try out.withUnsafeMutableBufferPointer { try decode(nil, into: $0) }
        }
        return out
    }
}
