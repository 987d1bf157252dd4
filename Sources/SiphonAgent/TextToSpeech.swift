import SiphonAudio

/// Text-to-speech: one call per sentence, audio frames out as they are synthesised. Cancelling the
/// consuming task stops synthesis.
public protocol TextToSpeech: Sendable {
    var name: String { get }
    /// The rate frames come out at (the pipeline resamples if it differs).
    var sampleRate: Int { get }
    func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error>
}
