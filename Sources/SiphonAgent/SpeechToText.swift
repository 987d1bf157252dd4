import SiphonAudio

/// A transcript from a streaming recogniser.
public struct Transcript: Sendable, Equatable {
    public var text: String
    /// Final for its segment (interim results may still change).
    public var isFinal: Bool
    public var confidence: Double?

    public init(text: String, isFinal: Bool, confidence: Double? = nil) {
        (self.text, self.isFinal, self.confidence) = (text, isFinal, confidence)
    }
}

/// Streaming speech-to-text. One `STTStream` per call.
public protocol SpeechToText: Sendable {
    var name: String { get }
    /// The rate the engine wants audio at (the pipeline resamples to it).
    var sampleRate: Int { get }
    /// Whether it sends interim results while the caller speaks (the first words of a backchannel
    /// come in time to keep the agent going); false for recognisers with finals only.
    var streamsInterimResults: Bool { get }
    func open() async throws -> any STTStream
}

extension SpeechToText {
    public var streamsInterimResults: Bool { false }
}

/// Audio frames in, transcripts out. `speech` is the local VAD's view of each frame, which simple
/// engines use to segment utterances; cloud engines endpoint on their own.
public protocol STTStream: AnyObject, Sendable {
    func send(_ frame: AudioFrame, speech: Bool) async throws
    /// Flushes what was sent: a final transcript for a pending utterance, if any.
    func flush() async throws
    func close() async
    var transcripts: AsyncThrowingStream<Transcript, any Error> { get }
}
