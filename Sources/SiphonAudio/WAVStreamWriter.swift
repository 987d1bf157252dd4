import Foundation
import SiphonCore

/// Writes a PCM16 WAV file incrementally (call recordings): samples are appended as they come and
/// the header's sizes are filled in on `close()`, so hours of audio never sit in memory.
public final class WAVStreamWriter {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    private let handle: FileHandle
    private var dataBytes = 0
    private var closed = false

    public init(path: String, sampleRate: Int, channels: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw SiphonError(.unavailable, "cannot create \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        self.path = path
        self.sampleRate = sampleRate
        self.channels = channels
        handle.write(Data(header(dataBytes: 0)))
    }

    deinit { close() }

    /// Appends interleaved frames (`channels` samples per frame).
    public func append(interleaved samples: [Int16]) {
        guard !closed else { return }
        var bytes = [UInt8]()
        bytes.reserveCapacity(samples.count * 2)
        for s in samples {
            bytes.append(UInt8(truncatingIfNeeded: s))
            bytes.append(UInt8(truncatingIfNeeded: s >> 8))
        }
        handle.write(Data(bytes))
        dataBytes += bytes.count
    }

    public func close() {
        guard !closed else { return }
        closed = true
        handle.seek(toFileOffset: 0)
        handle.write(Data(header(dataBytes: dataBytes)))
        try? handle.close()
    }

    private func header(dataBytes: Int) -> [UInt8] {
        var out = [UInt8]()
        func put32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func put16(_ v: Int) { for i in 0..<2 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        out += Array("RIFF".utf8); put32(36 + dataBytes); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); put32(16); put16(1); put16(channels); put32(sampleRate)
        put32(sampleRate * channels * 2); put16(channels * 2); put16(16)
        out += Array("data".utf8); put32(dataBytes)
        return out
    }
}
