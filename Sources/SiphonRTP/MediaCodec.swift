import SiphonAudio
import SiphonCore

/// One codec's encode/decode/conceal at 20 ms, between RTP payloads and PCM at the codec's own
/// rate (8 kHz for G.711; Opus runs at the pipeline rate — it may be decoded at any rate).
protocol MediaCodec: AnyObject {
    var sampleRate: Int { get }
    /// RTP timestamp units per 20 ms frame.
    var timestampStep: UInt32 { get }
    func decode(_ payload: [UInt8], into pcm: inout [Int16]) throws
    func conceal(into pcm: inout [Int16])
    func encode(_ pcm: [Int16]) throws -> [UInt8]
    /// A payload that plays as silence.
    func silence() -> [UInt8]
}

final class G711MediaCodec: MediaCodec {
    let law: G711.Law
    let sampleRate = 8000
    let timestampStep: UInt32 = 160
    private var last = [Int16](repeating: 0, count: 160)
    private var concealed = 0

    init(law: G711.Law) { self.law = law }

    func decode(_ payload: [UInt8], into pcm: inout [Int16]) throws {
        pcm.removeAll(keepingCapacity: true)
        for b in payload { pcm.append(law == .ulaw ? G711.ulawDecode(b) : G711.alawDecode(b)) }
        last = pcm
        concealed = 0
    }

    /// G.711 has no concealment of its own: replay the last frame, fading by half each time, then silence.
    func conceal(into pcm: inout [Int16]) {
        concealed += 1
        let gain = concealed > 3 ? 0 : 1.0 / Double(1 << concealed)
        pcm = last.map { Int16(Double($0) * gain) }
    }

    func encode(_ pcm: [Int16]) throws -> [UInt8] { pcm.map { law == .ulaw ? G711.ulawEncode($0) : G711.alawEncode($0) } }

    func silence() -> [UInt8] { Array(repeating: law.silence, count: 160) }
}

final class OpusMediaCodec: MediaCodec {
    let sampleRate: Int
    let timestampStep: UInt32 = 960  // Opus RTP always ticks at 48 kHz (RFC 7587)
    private let encoder: OpusEncoder
    private let decoder: OpusDecoder
    /// Silent frames since the last encoded one (the media clock's thread only).
    private var silentFrames = 0

    init(sampleRate: Int) throws {
        self.sampleRate = sampleRate
        encoder = try OpusEncoder(sampleRate: sampleRate)
        decoder = try OpusDecoder(sampleRate: sampleRate)
    }

    func decode(_ payload: [UInt8], into pcm: inout [Int16]) throws { pcm = try decoder.decode(payload) }
    func conceal(into pcm: inout [Int16]) { pcm = (try? decoder.decode(nil)) ?? Array(repeating: 0, count: sampleRate / 50) }
    func encode(_ pcm: [Int16]) throws -> [UInt8] {
        silentFrames = 0
        return try encoder.encode(pcm)
    }

    /// Coded silence for the voice's tail, then the canned frame, as on WebRTC (`AudioTrack`).
    func silence() -> [UInt8] {
        silentFrames += 1
        if silentFrames > OpusEncoder.codedSilenceFrames { return OpusEncoder.silenceFrame }
        return (try? encoder.encode(Array(repeating: 0, count: sampleRate / 50))) ?? OpusEncoder.silenceFrame
    }
}
