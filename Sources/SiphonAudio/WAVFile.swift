import Foundation
import SiphonCore

/// RIFF/WAVE files: PCM16 and G.711 (μ-law, A-law), any rate, mono (stereo is mixed down on read).
/// For recordings and test fixtures; not on the per-frame path.
public struct WAVFile: Sendable, Equatable {
    public enum Encoding: UInt16, Sendable {
        case pcm16 = 1
        case alaw = 6
        case ulaw = 7
    }

    public var sampleRate: Int
    /// Linear samples (G.711 files are decoded on read and encoded on write).
    public var samples: [Int16]
    public var channels: Int = 1

    public init(sampleRate: Int, samples: [Int16], channels: Int = 1) {
        self.sampleRate = sampleRate
        self.samples = samples
        self.channels = channels
    }

    public var duration: Double { Double(samples.count / max(1, channels)) / Double(sampleRate) }

    public static func read(_ path: String) throws -> WAVFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SiphonError.invalid("cannot read \(path)")
        }
        return try parse(data, name: path)
    }

    public static func parse(_ data: Data, name: String = "WAV data") throws -> WAVFile {
        let bytes = [UInt8](data)
        func u32(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw SiphonError.invalid("\(name) is not a RIFF/WAVE file")
        }
        var offset = 12
        var format: (encoding: Encoding, channels: Int, rate: Int, bits: Int)?
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let size = u32(offset + 4)
            let body = offset + 8
            guard size >= 0, body + size <= bytes.count || id == "data" else {
                throw SiphonError.invalid("\(name): chunk '\(id)' runs past the end of the file")
            }
            if id == "fmt " {
                guard size >= 16 else { throw SiphonError.invalid("\(name): fmt chunk too short") }
                var tag = UInt16(u16(body))
                if tag == 0xFFFE, size >= 26 { tag = UInt16(u16(body + 24)) }  // WAVE_FORMAT_EXTENSIBLE
                guard let encoding = Encoding(rawValue: tag) else {
                    throw SiphonError.invalid("\(name): unsupported WAV format \(tag) (PCM16, μ-law and A-law are supported)")
                }
                let channels = u16(body + 2), rate = u32(body + 4), bits = u16(body + 14)
                guard (1...2).contains(channels), (1000...192_000).contains(rate) else {
                    throw SiphonError.invalid("\(name): \(channels) channels at \(rate) Hz is not supported")
                }
                guard (encoding == .pcm16 && bits == 16) || (encoding != .pcm16 && bits == 8) else {
                    throw SiphonError.invalid("\(name): \(bits)-bit samples are not supported for this encoding")
                }
                format = (encoding, channels, rate, bits)
            } else if id == "data" {
                guard let f = format else { throw SiphonError.invalid("\(name): data chunk before fmt chunk") }
                let end = min(bytes.count, body + size)
                var samples: [Int16]
                switch f.encoding {
                case .pcm16:
                    samples = stride(from: body, to: end - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
                case .ulaw: samples = bytes[body..<end].map(G711.ulawDecode)
                case .alaw: samples = bytes[body..<end].map(G711.alawDecode)
                }
                if f.channels == 2 {
                    let interleaved = samples
                    samples = stride(from: 0, to: interleaved.count - 1, by: 2).map { (i: Int) -> Int16 in
                        let sum = Int(interleaved[i]) + Int(interleaved[i + 1])
                        return Int16(sum / 2)
                    }
                }
                return WAVFile(sampleRate: f.rate, samples: samples)
            }
            offset = body + size + (size & 1)
        }
        throw SiphonError.invalid("\(name) has no data chunk")
    }

    public func write(_ path: String, encoding: Encoding = .pcm16) throws {
        try data(encoding: encoding).write(to: URL(fileURLWithPath: path))
    }

    public func data(encoding: Encoding = .pcm16) -> Data {
        var body = [UInt8]()
        switch encoding {
        case .pcm16:
            body.reserveCapacity(samples.count * 2)
            for s in samples { body.append(UInt8(truncatingIfNeeded: s)); body.append(UInt8(truncatingIfNeeded: s >> 8)) }
        case .ulaw: body = samples.map(G711.ulawEncode)
        case .alaw: body = samples.map(G711.alawEncode)
        }
        let bits = encoding == .pcm16 ? 16 : 8
        let blockAlign = channels * bits / 8
        var out = [UInt8]()
        func put32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func put16(_ v: Int) { for i in 0..<2 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        out += Array("RIFF".utf8); put32(36 + body.count); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); put32(16); put16(Int(encoding.rawValue)); put16(channels); put32(sampleRate)
        put32(sampleRate * blockAlign); put16(blockAlign); put16(bits)
        out += Array("data".utf8); put32(body.count)
        out += body
        if body.count & 1 == 1 { out.append(0) }
        return Data(out)
    }
}
