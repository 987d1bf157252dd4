import SiphonAudio

/// Turns RFC 4733 telephone-event packets into digits: one digit per event (keyed by the RTP
/// timestamp of the event's start), however many times its packets and end packets are repeated.
public struct TelephoneEventReceiver {
    private var lastEventTimestamp: UInt32?

    public init() {}

    public mutating func receive(_ packet: RTPPacket) -> Character? {
        guard let event = try? TelephoneEvent(parsing: packet.payload), let digit = event.digit else { return nil }
        guard packet.timestamp != lastEventTimestamp else { return nil }
        lastEventTimestamp = packet.timestamp
        return digit
    }
}

/// The packets of one outgoing RFC 4733 event: updates every 20 ms with a growing duration
/// (first with the marker), then the end packet three times.
public enum TelephoneEventSender {
    public static func packets(digit: Character, duration: Int = 100, clockRate: Int = 8000, volume: UInt8 = 10) -> [TelephoneEvent]? {
        guard let event = TelephoneEvent.event(for: digit) else { return nil }
        let step = clockRate / 50
        let frames = max(2, duration / 20)
        var out: [TelephoneEvent] = (1..<frames).map { TelephoneEvent(event: event, end: false, volume: volume, duration: UInt16(min(65535, step * $0))) }
        let total = UInt16(min(65535, step * frames))
        out += Array(repeating: TelephoneEvent(event: event, end: true, volume: volume, duration: total), count: 3)
        return out
    }
}
