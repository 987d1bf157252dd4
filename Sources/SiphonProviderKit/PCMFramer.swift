import SiphonAudio

/// Cuts a byte stream of mono audio — 16-bit little-endian PCM, or G.711 μ-law as telephone-rate
/// voices send it — into 20 ms `AudioFrame`s, whatever the network's chunk boundaries (an odd PCM
/// byte is kept for the next chunk). The last partial frame is padded with silence by `finish()`.
public struct PCMFramer: Sendable {
    public enum Encoding: Sendable { case linear16, mulaw }

    public let sampleRate: Int
    public let encoding: Encoding
    private var pending: [Int16] = []
    private var oddByte: UInt8?

    public init(sampleRate: Int, encoding: Encoding = .linear16) {
        (self.sampleRate, self.encoding) = (sampleRate, encoding)
        pending.reserveCapacity(sampleRate / 25)
    }

    public mutating func feed(_ bytes: some Collection<UInt8>) -> [AudioFrame] {
        if encoding == .mulaw {
            for b in bytes { pending.append(G711.ulawDecode(b)) }
            return drain()
        }
        var it = bytes.makeIterator()
        if let lo = oddByte, let hi = it.next() {
            pending.append(Int16(bitPattern: UInt16(lo) | UInt16(hi) << 8))
            oddByte = nil
        }
        while let lo = it.next() {
            guard let hi = it.next() else { oddByte = lo; break }
            pending.append(Int16(bitPattern: UInt16(lo) | UInt16(hi) << 8))
        }
        return drain()
    }

    public mutating func finish() -> AudioFrame? {
        guard !pending.isEmpty else { return nil }
        let n = AudioFrame.samplesPerFrame(sampleRate)
        let f = AudioFrame(sampleRate: sampleRate, samples: pending + [Int16](repeating: 0, count: n - pending.count))
        pending.removeAll()
        return f
    }

    private mutating func drain() -> [AudioFrame] {
        let n = AudioFrame.samplesPerFrame(sampleRate)
        guard pending.count >= n else { return [] }
        var out: [AudioFrame] = []
        var i = 0
        while pending.count - i >= n {
            out.append(AudioFrame(sampleRate: sampleRate, samples: Array(pending[i..<i + n])))
            i += n
        }
        pending.removeFirst(i)
        return out
    }
}
