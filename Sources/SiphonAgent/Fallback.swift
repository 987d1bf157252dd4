import Logging
import Synchronization
import SiphonAudio
import SiphonCore

/// Tries each model in order for a request until one starts answering. A provider that fails
/// before its first token (down, rate limited, circuit open, bad key) hands the same request to
/// the next, so the caller's turn is answered; once tokens have flowed, a failure is not replayed
/// elsewhere (the caller may have heard the beginning).
public struct FallbackLLM: LanguageModel {
    public let models: [any LanguageModel]
    let logger: Logger

    public init(_ models: [any LanguageModel], logger: Logger = Logger(label: "siphon.providers")) {
        precondition(!models.isEmpty, "a fallback chain needs at least one model")
        (self.models, self.logger) = (models, logger)
    }

    public var name: String { "fallback(" + models.map(\.name).joined(separator: ", ") + ")" }

    public func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
        let models = self.models, logger = self.logger
        return FallbackChain.run(models.count, logger: logger, name: { models[$0].name }) { i in try await models[i].stream(request) }
    }
}

/// The same for speech: the next voice takes over a sentence that produced no audio yet.
public struct FallbackTTS: TextToSpeech {
    public let voices: [any TextToSpeech]
    let logger: Logger

    public init(_ voices: [any TextToSpeech], logger: Logger = Logger(label: "siphon.providers")) {
        precondition(!voices.isEmpty, "a fallback chain needs at least one voice")
        (self.voices, self.logger) = (voices, logger)
    }

    public var name: String { "fallback(" + voices.map(\.name).joined(separator: ", ") + ")" }
    /// The first voice's rate; frames from another are resampled by the pipeline (each frame carries its rate).
    public var sampleRate: Int { voices[0].sampleRate }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let voices = self.voices, logger = self.logger
        return FallbackChain.run(voices.count, logger: logger, name: { voices[$0].name }) { i in try await voices[i].synthesize(text) }
    }
}

/// Recognisers are stateful per call: the chain opens the first that opens; when its stream fails
/// mid-call the next one is opened and audio continues there (words in flight may be lost, the
/// call is not).
public struct FallbackSTT: SpeechToText {
    public let recognisers: [any SpeechToText]
    let logger: Logger

    public init(_ recognisers: [any SpeechToText], logger: Logger = Logger(label: "siphon.providers")) {
        precondition(!recognisers.isEmpty, "a fallback chain needs at least one recogniser")
        (self.recognisers, self.logger) = (recognisers, logger)
    }

    public var name: String { "fallback(" + recognisers.map(\.name).joined(separator: ", ") + ")" }
    public var sampleRate: Int { recognisers[0].sampleRate }
    public var streamsInterimResults: Bool { recognisers[0].streamsInterimResults }

    public func open() async throws -> any STTStream {
        try await FallbackSTTStream.open(recognisers, logger: logger)
    }
}

enum FallbackChain {
    static func run<T: Sendable>(_ count: Int, logger: Logger, name: @escaping @Sendable (Int) -> String,
                                 _ open: @escaping @Sendable (Int) async throws -> AsyncThrowingStream<T, any Error>) -> AsyncThrowingStream<T, any Error> {
        UntilAnswered.stream(open) { i, error in
            guard i + 1 < count else { return false }
            logger.warning("provider failed before answering; falling back", metadata: [
                "provider": "\(name(i))", "next": "\(name(i + 1))", "error": "\(error)"])
            return true
        }
    }
}

/// Relays the first attempt that answers. An attempt that fails before producing anything is
/// followed by another if `proceed` says so (after waiting: a retry; with another provider: a
/// fallback); once something went out — and may have been spoken — a failure is the caller's,
/// since a replay would say things twice.
public enum UntilAnswered {
    public static func stream<T: Sendable>(
        _ open: @escaping @Sendable (_ attempt: Int) async throws -> AsyncThrowingStream<T, any Error>,
        proceed: @escaping @Sendable (_ attempt: Int, _ error: any Error) async -> Bool
    ) -> AsyncThrowingStream<T, any Error> {
        AsyncThrowingStream { c in
            let task = Task {
                var attempt = 0
                while true {
                    var produced = false
                    do {
                        for try await item in try await open(attempt) {
                            produced = true
                            c.yield(item)
                        }
                        return c.finish()
                    } catch {
                        if Task.isCancelled { return c.finish(throwing: CancellationError()) }
                        guard !produced, await proceed(attempt, error) else { return c.finish(throwing: error) }
                        if Task.isCancelled { return c.finish(throwing: CancellationError()) }
                        attempt += 1
                    }
                }
            }
            c.onTermination = { _ in task.cancel() }
        }
    }
}

/// Forwards to the current recogniser; on its failure, opens the next and carries on.
final class FallbackSTTStream: STTStream {
    private struct Current { var index: Int; var stream: any STTStream; var relay: Task<Void, Never>? }
    private let recognisers: [any SpeechToText]
    private let logger: Logger
    private let state: Mutex<Current>
    let transcripts: AsyncThrowingStream<Transcript, any Error>
    private let sink: AsyncThrowingStream<Transcript, any Error>.Continuation

    private init(_ recognisers: [any SpeechToText], index: Int, current: any STTStream, logger: Logger) {
        (self.recognisers, self.logger) = (recognisers, logger)
        state = Mutex(Current(index: index, stream: current, relay: nil))
        (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
    }

    static func open(_ recognisers: [any SpeechToText], logger: Logger) async throws -> FallbackSTTStream {
        var lastError: (any Error)?
        for (i, r) in recognisers.enumerated() {
            do {
                let s = FallbackSTTStream(recognisers, index: i, current: try await r.open(), logger: logger)
                s.startRelay()
                return s
            } catch {
                lastError = error
                logger.warning("recogniser failed to open; falling back", metadata: ["provider": "\(r.name)", "error": "\(error)"])
            }
        }
        throw lastError ?? CancellationError()
    }

    private func startRelay() {
        let stream = state.withLock { $0.stream }
        let task = Task { [weak self] in
            do {
                for try await t in stream.transcripts { self?.sink.yield(t) }
                self?.sink.finish()
            } catch {
                await self?.failOver(after: error)
            }
        }
        state.withLock { $0.relay = task }
    }

    private func failOver(after error: any Error) async {
        var next = state.withLock { $0.index } + 1
        while next < recognisers.count, !Task.isCancelled {
            do {
                let opened = try await recognisers[next].open()
                logger.warning("recogniser failed mid-call; switched", metadata: [
                    "provider": "\(recognisers[next - 1].name)", "next": "\(recognisers[next].name)", "error": "\(error)"])
                state.withLock { $0.index = next; $0.stream = opened }
                startRelay()
                return
            } catch {
                next += 1
            }
        }
        sink.finish(throwing: error)
    }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        // A failing recogniser is noticed by the relay, which switches; audio meanwhile is dropped.
        try? await state.withLock { $0.stream }.send(frame, speech: speech)
    }

    func flush() async throws {
        try? await state.withLock { $0.stream }.flush()
    }

    /// Closes the current recogniser (which delivers its last words), lets the relay forward
    /// them, then ends.
    func close() async {
        let (stream, relay) = state.withLock { ($0.stream, $0.relay) }
        await stream.close()
        _ = await relay?.finish(within: .seconds(1))
        sink.finish()
    }
}
