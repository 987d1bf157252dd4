/// Messages out of a TURN-over-TCP byte stream (RFC 8656 §6.2.2): STUN messages delimit themselves
/// (a 20-byte header whose length counts the attributes); ChannelData messages (first two bits 01)
/// carry their length and are padded to four bytes on a stream. Anything else means the stream
/// is not TURN: an error, and the connection should be closed.
struct TURNStreamFramer {
    /// STUN over TCP carries at most 64 KiB of attributes; nothing legitimate is larger.
    static let maxMessage = 20 + 65_535
    private var buffer: [UInt8] = []

    mutating func push(_ bytes: [UInt8]) throws -> [[UInt8]] {
        buffer += bytes
        var messages: [[UInt8]] = []
        while buffer.count >= 4 {
            let length = Int(buffer[2]) << 8 | Int(buffer[3])
            let total: Int
            switch buffer[0] >> 6 {
            case 0:  // STUN
                guard length % 4 == 0 else { throw WebRTCError(.malformed, "TURN stream: a STUN length not a multiple of 4 (\(length))") }
                total = 20 + length
            case 1:  // ChannelData, padded to 4 on a stream; channel numbers are 0x4000-0x4FFF
                guard buffer[0] <= 0x4F else { throw WebRTCError(.malformed, "TURN stream: reserved channel number (first byte \(buffer[0]))") }
                total = 4 + (length + 3) / 4 * 4
            default:
                throw WebRTCError(.malformed, "TURN stream: neither STUN nor ChannelData (first byte \(buffer[0]))")
            }
            guard total <= Self.maxMessage else { throw WebRTCError(.malformed, "TURN stream: a \(total)-byte message") }
            guard buffer.count >= total else { break }
            // ChannelData's padding is not part of the message.
            let end = buffer[0] >> 6 == 1 ? 4 + length : total
            messages.append(Array(buffer[0..<end]))
            buffer.removeFirst(total)
        }
        return messages
    }
}
