import SiphonCore

/// An RTP packet (RFC 3550 5.1). Parsing validates version, lengths, CSRCs, header extension and
/// padding; anything else is an error and the packet is dropped.
public struct RTPPacket: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var payload: [UInt8]

    public init(marker: Bool = false, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]) {
        (self.marker, self.payloadType, self.sequence, self.timestamp, self.ssrc, self.payload) =
            (marker, payloadType, sequence, timestamp, ssrc, payload)
    }

    public init(parsing b: some Collection<UInt8>) throws {
        let bytes = Array(b)
        guard bytes.count >= 12 else { throw SiphonError(.protocolViolation, "RTP packet shorter than its header") }
        guard bytes[0] >> 6 == 2 else { throw SiphonError(.protocolViolation, "RTP version \(bytes[0] >> 6)") }
        let padding = bytes[0] & 0x20 != 0
        let hasExtension = bytes[0] & 0x10 != 0
        let csrcCount = Int(bytes[0] & 0x0F)
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequence = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        var offset = 12 + 4 * csrcCount
        guard bytes.count >= offset else { throw SiphonError(.protocolViolation, "RTP CSRC list runs past the packet") }
        if hasExtension {
            guard bytes.count >= offset + 4 else { throw SiphonError(.protocolViolation, "RTP extension header truncated") }
            let words = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            offset += 4 + 4 * words
            guard bytes.count >= offset else { throw SiphonError(.protocolViolation, "RTP extension runs past the packet") }
        }
        var end = bytes.count
        if padding {
            let pad = Int(bytes[end - 1])
            guard pad >= 1, end - pad >= offset else { throw SiphonError(.protocolViolation, "bad RTP padding") }
            end -= pad
        }
        payload = Array(bytes[offset..<end])
    }

    /// RTCP shares ports with RTP when muxed (RFC 5761): payload types 64–95 with the marker are RTCP.
    public static func looksLikeRTCP(_ bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count >= 2 else { return false }
        let pt = bytes[bytes.index(after: bytes.startIndex)]
        return pt >= 192 && pt <= 223
    }

    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(12 + payload.count)
        write(into: &out)
        return out
    }

    public func write(into out: inout [UInt8]) {
        out.append(0x80)
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.append(UInt8(sequence >> 8)); out.append(UInt8(sequence & 0xFF))
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((timestamp >> UInt32(shift)) & 0xFF)) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((ssrc >> UInt32(shift)) & 0xFF)) }
        out.append(contentsOf: payload)
    }
}
