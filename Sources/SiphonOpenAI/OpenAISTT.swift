import Foundation
import Synchronization
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// `/v1/audio/transcriptions`, one request per utterance: the local VAD segments the call (with
/// 300 ms of audio before speech), and each utterance is posted as a WAV file when the caller
/// stops. Transcripts come out in utterance order.
public struct OpenAISTT: SpeechToText {
    public let configuration: OpenAIConfiguration
    public let model: String
    public var language: String?
    public var prompt: String?

    public init(configuration: OpenAIConfiguration, model: String = "gpt-4o-mini-transcribe", language: String? = nil, prompt: String? = nil) {
        (self.configuration, self.model, self.language, self.prompt) = (configuration, model, language, prompt)
    }

    public var name: String { "\(configuration.provider):\(model)" }
    public let sampleRate = 16_000

    public func open() async throws -> any STTStream {
        OpenAISTTStream(stt: self, client: configuration.client())
    }

    /// One utterance → text.
    public func transcribe(_ samples: [Int16], sampleRate: Int) async throws -> String {
        try await transcribe(samples, sampleRate: sampleRate, client: configuration.client())
    }

    func transcribe(_ samples: [Int16], sampleRate: Int, client: ProviderHTTPClient) async throws -> String {
        let boundary = "siphon-\(UUID().uuidString)"
        var form = MultipartForm(boundary: boundary)
        form.file("file", filename: "utterance.wav", contentType: "audio/wav", data: WAVFile(sampleRate: sampleRate, samples: samples).data())
        form.field("model", model)
        form.field("response_format", "json")
        if let language { form.field("language", language) }
        if let prompt { form.field("prompt", prompt) }
        let body = form.finished()
        let headers = configuration.headers.filter { $0.0 != "Content-Type" } + [("Content-Type", "multipart/form-data; boundary=\(boundary)")]
        let provider = configuration.provider
        return try await Retrier.run(configuration.retry) { _ in
            var clock = RequestClock()
            do {
                let response = try await client.send("/audio/transcriptions", headers: headers, body: body)
                let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
                clock.firstByte()
                struct Reply: Decodable { var text: String }
                guard let reply = try? JSONDecoder().decode(Reply.self, from: data) else {
                    throw ProviderError(provider: provider, kind: .malformed, status: 200, message: "transcription reply has no text")
                }
                ProviderMetrics.usage(provider, .stt, unit: "audio_seconds", Double(samples.count) / Double(sampleRate))
                clock.finish(provider, .stt)
                return reply.text
            } catch {
                clock.finish(provider, .stt, error: error)
                throw error
            }
        }
    }
}

final class OpenAISTTStream: STTStream {
    private struct State {
        var preroll: [AudioFrame] = []
        var utterance: [Int16] = []
        var inSpeech = false
        /// The previous utterance's request: the next waits for it, so transcripts stay in order.
        var last: Task<Void, Never>?
    }
    private let stt: OpenAISTT
    private let client: ProviderHTTPClient
    private let state = Mutex(State())
    let transcripts: AsyncThrowingStream<Transcript, any Error>
    private let sink: AsyncThrowingStream<Transcript, any Error>.Continuation
    static let prerollFrames = 15
    /// Shorter than this is a click, not an utterance.
    static let minimumSamples = 16_000 / 5

    init(stt: OpenAISTT, client: ProviderHTTPClient) {
        (self.stt, self.client) = (stt, client)
        (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
    }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        let ended = state.withLock { s -> [Int16]? in
            if speech {
                if !s.inSpeech {
                    s.inSpeech = true
                    s.utterance = s.preroll.flatMap(\.samples)
                    s.preroll.removeAll()
                }
                s.utterance += frame.samples
                return nil
            }
            s.preroll.append(frame)
            if s.preroll.count > Self.prerollFrames { s.preroll.removeFirst() }
            guard s.inSpeech else { return nil }
            s.inSpeech = false
            defer { s.utterance.removeAll() }
            return s.utterance
        }
        if let ended { submit(ended, rate: frame.sampleRate) }
    }

    /// Submits the pending utterance and returns: the call's frame loop calls this when the caller
    /// stops, and must not wait out an HTTP round trip.
    func flush() async throws {
        let pending = state.withLock { s -> [Int16] in
            defer { s.utterance.removeAll(); s.inSpeech = false }
            return s.utterance
        }
        submit(pending, rate: stt.sampleRate)
    }

    private func submit(_ samples: [Int16], rate: Int) {
        guard samples.count >= Self.minimumSamples * rate / 16_000 else { return }
        let stt = self.stt, client = self.client, sink = self.sink
        state.withLock { s in
            let previous = s.last
            s.last = Task {
                let result: Result<String, any Error>
                do { result = .success(try await stt.transcribe(samples, sampleRate: rate, client: client)) } catch { result = .failure(error) }
                await previous?.value
                switch result {
                case .success(let text): if !text.isEmpty { sink.yield(Transcript(text: text.trimmingCharacters(in: .whitespaces), isFinal: true)) }
                case .failure(is CancellationError): break  // given up at close
                case .failure(let error): sink.finish(throwing: error)
                }
            }
        }
    }

    /// Waits (up to 5 s) for the utterances already submitted — the caller's last words — then ends.
    func close() async {
        if let last = state.withLock({ $0.last }) { _ = await last.finish(within: .seconds(5)) }
        sink.finish()
    }
}

/// `multipart/form-data` (RFC 7578).
struct MultipartForm {
    let boundary: String
    private var body = Data()

    init(boundary: String) { self.boundary = boundary }

    mutating func field(_ name: String, _ value: String) {
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
    }

    mutating func file(_ name: String, filename: String, contentType: String, data: Data) {
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8))
        body.append(data)
        body.append(Data("\r\n".utf8))
    }

    func finished() -> Data { body + Data("--\(boundary)--\r\n".utf8) }
}
