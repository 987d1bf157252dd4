import SiphonCore

/// An RFC 4733 telephone-event payload (DTMF over RTP): event, end bit, volume, duration.
///
///      0                   1                   2                   3
///     |     event     |E|R| volume    |          duration             |
public struct TelephoneEvent: Sendable, Equatable {
    /// 0–9 digits, 10 `*`, 11 `#`, 12–15 `A`–`D`, 16 flash.
    public var event: UInt8
    /// Set on the last packets of the event (sent three times).
    public var end: Bool
    /// Power level of the tone in −dBm0, 0…63.
    public var volume: UInt8
    /// Duration so far in RTP timestamp units.
    public var duration: UInt16

    public init(event: UInt8, end: Bool = false, volume: UInt8 = 10, duration: UInt16 = 0) {
        self.event = event
        self.end = end
        self.volume = min(volume, 63)
        self.duration = duration
    }

    public init(parsing payload: some Collection<UInt8>) throws {
        guard payload.count >= 4 else {
            throw SiphonError(.protocolViolation, "telephone-event payload is \(payload.count) bytes, expected 4")
        }
        let b = Array(payload.prefix(4))
        event = b[0]
        end = b[1] & 0x80 != 0
        volume = b[1] & 0x3F
        duration = UInt16(b[2]) << 8 | UInt16(b[3])
    }

    public var bytes: [UInt8] {
        [event, (end ? 0x80 : 0) | (volume & 0x3F), UInt8(duration >> 8), UInt8(duration & 0xFF)]
    }

    public static let digits: [Character] = Array("0123456789*#ABCD")

    public static func event(for digit: Character) -> UInt8? {
        guard let i = digits.firstIndex(of: Character(digit.uppercased())) else { return nil }
        return UInt8(i)
    }

    /// The DTMF digit for this event, or nil for flash and non-DTMF events.
    public var digit: Character? { event < 16 ? Self.digits[Int(event)] : nil }
}
