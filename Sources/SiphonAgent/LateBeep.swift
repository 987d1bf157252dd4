import SiphonAudio

/// A voicemail that beeps late: its greeting ended in silence, so the message started, and then the
/// beep came — the recording starts at the beep's end, so what was said before it is lost. Watches
/// the caller's line for the first seconds of the message; a beep cuts the message (`beepStarted`)
/// and its end says to say it again from the start (`beepEnded`). One restart at most.
struct LateBeep {
    enum Step: Equatable {
        case none
        /// A beep: silence the message.
        case beepStarted
        /// The beep is over (or never ended within `longestBeepFrames`): speak the message again.
        case beepEnded
        /// No beep in the watched window: the message stands.
        case expired
    }

    private let detector: ToneDetector
    private let watchFrames: Int
    private var frames = 0
    /// Frames since the beep started, while it sounds.
    private(set) var sounding: Int?
    /// How long into the message a beep still counts as the one that starts the recording (it
    /// follows the greeting's own silence); tones later are something else — a recorder's "time
    /// is up", a keypad — and must not restart the message.
    static let watchSeconds = 4.0
    static let longestBeepFrames = 150

    init(sampleRate: Int) {
        detector = ToneDetector(sampleRate: sampleRate)
        watchFrames = Int(Self.watchSeconds * 50)
    }

    /// One caller frame while the message plays (or waits for the beep to end).
    mutating func step(_ frame: [Int16]) -> Step {
        frames += 1
        let event = detector.process(frame)
        if let since = sounding {
            if case .ended? = event { return .beepEnded }
            sounding = since + 1
            return since + 1 >= Self.longestBeepFrames ? .beepEnded : .none
        }
        if case .started(let f, _)? = event, abs(f - 1100) > 40 {  // 1100 Hz half-second bursts are a fax's
            sounding = 0
            return .beepStarted
        }
        return frames >= watchFrames ? .expired : .none
    }
}
