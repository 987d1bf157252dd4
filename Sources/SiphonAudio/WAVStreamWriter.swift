import Foundation
import SiphonCore

/// Writes a PCM16 WAV file incrementally (call recordings): samples are appended as they come and
/// the header's sizes are filled in on `close()`, so hours of audio never sit in memory.
///
/// Blocking file I/O that can fail (a full disk, an I/O error): every write throws instead of
/// trapping (Foundation's `FileHandle.write(_:)` is a `try!` on Linux). Use it from a thread of
/// its own — `CallRecorder` does — never from a media clock.
public final class WAVStreamWriter {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    private var fd: Int32
    private var dataBytes = 0
    private var bytes: [UInt8] = []

    public init(path: String, sampleRate: Int, channels: Int) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.failure(path, "cannot create", errno) }
        self.path = path
        self.sampleRate = sampleRate
        self.channels = channels
        do {
            try write(header(dataBytes: 0))
        } catch {
            Foundation.close(fd)
            fd = -1
            throw error
        }
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }

    /// Appends interleaved frames (`channels` samples per frame), little-endian.
    public func append(interleaved samples: [Int16]) throws {
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(samples.count * 2)
        for s in samples {
            bytes.append(UInt8(truncatingIfNeeded: s))
            bytes.append(UInt8(truncatingIfNeeded: s >> 8))
        }
        try write(bytes)
        dataBytes += bytes.count
    }

    /// Fills in the header's sizes and closes the file. Safe to call twice.
    public func close() throws {
        guard fd >= 0 else { return }
        defer {
            Foundation.close(fd)
            fd = -1
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw Self.failure(path, "cannot rewind", errno) }
        try write(header(dataBytes: dataBytes))
    }

    private func write(_ data: [UInt8]) throws {
        guard fd >= 0 else { throw SiphonError(.unavailable, "recording \(path) is closed") }
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, data.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path, "cannot write", errno)
            }
            offset += n
        }
    }

    static func failure(_ path: String, _ what: String, _ code: Int32) -> SiphonError {
        SiphonError(.unavailable, "recording \(path): \(what) (\(String(cString: strerror(code))))")
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
