import Foundation
import SiphonCore

/// RTCP sender and receiver reports with a CNAME (RFC 3550 6.4, 6.5), sent as a compound packet.
public struct RTCPReport: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        public var ssrc: UInt32
        public var fractionLost: UInt8
        public var cumulativeLost: Int32
        public var highestSequence: UInt32
        public var jitter: UInt32
        public var lastSR: UInt32
        public var delaySinceLastSR: UInt32

        public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, highestSequence: UInt32, jitter: UInt32, lastSR: UInt32, delaySinceLastSR: UInt32) {
            (self.ssrc, self.fractionLost, self.cumulativeLost, self.highestSequence) = (ssrc, fractionLost, cumulativeLost, highestSequence)
            (self.jitter, self.lastSR, self.delaySinceLastSR) = (jitter, lastSR, delaySinceLastSR)
        }
    }

    public struct SenderInfo: Sendable, Equatable {
        public var ntpTimestamp: UInt64
        public var rtpTimestamp: UInt32
        public var packetCount: UInt32
        public var octetCount: UInt32

        public init(ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32) {
            (self.ntpTimestamp, self.rtpTimestamp, self.packetCount, self.octetCount) = (ntpTimestamp, rtpTimestamp, packetCount, octetCount)
        }
    }

    public var ssrc: UInt32
    public var sender: SenderInfo?
    public var blocks: [Block]
    public var cname: String?

    public init(ssrc: UInt32, sender: SenderInfo?, blocks: [Block], cname: String?) {
        (self.ssrc, self.sender, self.blocks, self.cname) = (ssrc, sender, blocks, cname)
    }

    /// SR (or RR when not sending) followed by SDES with CNAME.
    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        let count = min(blocks.count, 31)
        let words = (sender == nil ? 1 : 6) + 6 * count
        out += [0x80 | UInt8(count), sender == nil ? 201 : 200, UInt8(words >> 8), UInt8(words & 0xFF)]
        out += be32(ssrc)
        if let s = sender {
            out += be32(UInt32(s.ntpTimestamp >> 32)) + be32(UInt32(s.ntpTimestamp & 0xFFFF_FFFF))
            out += be32(s.rtpTimestamp) + be32(s.packetCount) + be32(s.octetCount)
        }
        for b in blocks.prefix(count) {
            out += be32(b.ssrc)
            let lost = UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, b.cumulativeLost))) & 0xFF_FFFF
            out += [b.fractionLost, UInt8(lost >> 16), UInt8((lost >> 8) & 0xFF), UInt8(lost & 0xFF)]
            out += be32(b.highestSequence) + be32(b.jitter) + be32(b.lastSR) + be32(b.delaySinceLastSR)
        }
        if let cname {
            let text = Array(cname.utf8.prefix(255))
            var chunk = be32(ssrc) + [1, UInt8(text.count)] + text + [0]
            while chunk.count % 4 != 0 { chunk.append(0) }
            let w = chunk.count / 4
            out += [0x81, 202, UInt8(w >> 8), UInt8(w & 0xFF)] + chunk
        }
        return out
    }

    /// Parses the first SR or RR of a compound packet (and its CNAME if present).
    public init(parsing b: some Collection<UInt8>) throws {
        let bytes = Array(b)
        var offset = 0
        var found: (UInt32, SenderInfo?, [Block])?
        var cname: String?
        while offset + 4 <= bytes.count {
            guard bytes[offset] >> 6 == 2 else { throw SiphonError(.protocolViolation, "RTCP version") }
            let count = Int(bytes[offset] & 0x1F)
            let type = bytes[offset + 1]
            let length = (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]) + 1) * 4
            guard offset + length <= bytes.count, length >= 4 else { throw SiphonError(.protocolViolation, "RTCP length") }
            let body = Array(bytes[(offset + 4)..<(offset + length)])
            if (type == 200 || type == 201) && found == nil {
                guard body.count >= 4 else { throw SiphonError(.protocolViolation, "RTCP report truncated") }
                let ssrc = Self.u32(body, 0)
                var p = 4
                var sender: SenderInfo?
                if type == 200 {
                    guard body.count >= 24 else { throw SiphonError(.protocolViolation, "RTCP SR truncated") }
                    sender = SenderInfo(ntpTimestamp: UInt64(Self.u32(body, 4)) << 32 | UInt64(Self.u32(body, 8)),
                                        rtpTimestamp: Self.u32(body, 12), packetCount: Self.u32(body, 16), octetCount: Self.u32(body, 20))
                    p = 24
                }
                var blocks: [Block] = []
                for _ in 0..<count where p + 24 <= body.count {
                    var lost = Int32(body[p + 5]) << 16 | Int32(body[p + 6]) << 8 | Int32(body[p + 7])
                    if lost & 0x80_0000 != 0 { lost -= 0x100_0000 }
                    blocks.append(Block(ssrc: Self.u32(body, p), fractionLost: body[p + 4], cumulativeLost: lost,
                                        highestSequence: Self.u32(body, p + 8), jitter: Self.u32(body, p + 12),
                                        lastSR: Self.u32(body, p + 16), delaySinceLastSR: Self.u32(body, p + 20)))
                    p += 24
                }
                found = (ssrc, sender, blocks)
            } else if type == 202, body.count >= 6, body[4] == 1 {
                let n = Int(body[5])
                if 6 + n <= body.count { cname = String(decoding: body[6..<(6 + n)], as: UTF8.self) }
            }
            offset += length
        }
        guard let (ssrc, sender, blocks) = found else { throw SiphonError(.protocolViolation, "no RTCP report in packet") }
        self.init(ssrc: ssrc, sender: sender, blocks: blocks, cname: cname)
    }

    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// The current time as a 64-bit NTP timestamp.
    public static func ntpNow() -> UInt64 {
        let t = Date().timeIntervalSince1970 + 2_208_988_800
        return UInt64(t) << 32 | UInt64((t - floor(t)) * 4_294_967_296)
    }
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
