import Foundation
import NIOHTTP1
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit
import Synchronization

/// OpenAI's Realtime transcription session (`/v1/realtime?intent=transcription`): the call's
/// audio streams over one WebSocket as it arrives — G.711 μ-law at 8 kHz exactly as the line
/// carries it (`audio/pcmu`), or 24 kHz PCM — and OpenAI's server VAD cuts the utterances:
/// `…transcription.delta` events become interim transcripts, `…completed` the final one. Unlike
/// the per-utterance `OpenAISTT`, the text is ready as the caller stops, not one upload later.
public struct OpenAIRealtimeSTT: SpeechToText {
    public enum Encoding: String, Sendable {
        /// `audio/pcmu`: μ-law at 8 kHz (telephone calls; nothing to resample or widen).
        case pcmu
        /// `audio/pcm`: 16-bit PCM at 24 kHz.
        case pcm
    }

    public let configuration: OpenAIConfiguration
    public let model: String
    public var language: String?
    public var prompt: String?
    public var encoding: Encoding
    /// Server VAD: silence that ends an utterance, and the activation threshold (0–1).
    public var silenceMs = 300
    public var threshold = 0.5

    public init(configuration: OpenAIConfiguration, model: String = "gpt-4o-transcribe", language: String? = nil, prompt: String? = nil,
                encoding: Encoding = .pcmu) {
        (self.configuration, self.model, self.language, self.prompt, self.encoding) = (configuration, model, language, prompt, encoding)
    }

    public var name: String { "\(configuration.provider):\(model) realtime" }
    public var streamsInterimResults: Bool { true }  // transcription deltas
    public var sampleRate: Int { encoding == .pcmu ? 8000 : 24_000 }

    /// The WebSocket twin of the HTTP base URL (`https://api.openai.com/v1` → `wss://…/v1`).
    var url: String {
        let base = configuration.baseURL.hasPrefix("https://") ? "wss://" + configuration.baseURL.dropFirst(8)
            : configuration.baseURL.hasPrefix("http://") ? "ws://" + configuration.baseURL.dropFirst(7) : configuration.baseURL
        return base + "/realtime?intent=transcription"
    }

    /// `session.update` for a transcription session.
    var sessionUpdate: String {
        var transcription: [String: Any] = ["model": model]
        if let language { transcription["language"] = language }
        if let prompt { transcription["prompt"] = prompt }
        let format: [String: Any] = encoding == .pcmu ? ["type": "audio/pcmu"] : ["type": "audio/pcm", "rate": 24_000]
        let input: [String: Any] = [
            "format": format, "transcription": transcription, "noise_reduction": ["type": "near_field"],
            "turn_detection": ["type": "server_vad", "threshold": threshold, "prefix_padding_ms": 300, "silence_duration_ms": silenceMs],
        ]
        let event: [String: Any] = ["type": "session.update", "session": ["type": "transcription", "audio": ["input": input]]]
        return String(decoding: (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    public func open() async throws -> any STTStream {
        let provider = configuration.provider
        let headers = configuration.headers.filter { $0.0 != "Content-Type" }
        let socket = try await WebSocketConnection.connect(url, headers: headers, provider: provider, timeout: .seconds(10)) { status, headers, body in
            OpenAIConfiguration.classify(provider: provider, status: status, body: Data(body.utf8), headers: HTTPHeaders(headers))
        }
        do {
            try await socket.send(sessionUpdate)
        } catch {
            socket.abort()
            throw error
        }
        return OpenAIRealtimeSTTStream(socket: socket, provider: provider, encoding: encoding)
    }
}

final class OpenAIRealtimeSTTStream: STTStream {
    let socket: WebSocketConnection
    let provider: String
    let encoding: OpenAIRealtimeSTT.Encoding
    let transcripts: AsyncThrowingStream<Transcript, any Error>
    private let reader: Task<Void, Never>
    private let sent = SampleCount()
    private let pending: RealtimePending

    init(socket: WebSocketConnection, provider: String, encoding: OpenAIRealtimeSTT.Encoding) {
        (self.socket, self.provider, self.encoding) = (socket, provider, encoding)
        let (stream, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
        transcripts = stream
        let pending = RealtimePending()
        self.pending = pending
        reader = Task {
            var interim = TranscriptDeltas()
            do {
                for try await message in socket.messages {
                    guard case .text(let text) = message else { continue }
                    let t = try interim.event(text, provider: provider)
                    pending.update(interim.lastEvent)
                    if let t { sink.yield(t) }
                }
                if let close = socket.serverClose, close.code != 1000 {
                    throw ProviderError(provider: provider, kind: .server, code: String(close.code), message: close.reason)
                }
                sink.finish()
            } catch {
                // After our own close, a connection torn down is the end, not a failure.
                if pending.hasEnded { sink.finish() } else { sink.finish(throwing: error) }
            }
            pending.end()
        }
    }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        // The frame's audio goes into one Data, base64 into the message: two allocations per frame.
        let audio: Data
        switch encoding {
        case .pcmu:
            var ulaw = Data(count: frame.samples.count)
            ulaw.withUnsafeMutableBytes { out in
                frame.samples.withUnsafeBufferPointer { G711.encode(.ulaw, $0, into: out.bindMemory(to: UInt8.self)) }
            }
            audio = ulaw
        case .pcm:
            audio = frame.samples.withUnsafeBytes { Data($0) }  // little-endian hosts, as audio/pcm is
        }
        guard try socket.stream(#"{"type":"input_audio_buffer.append","audio":""# + audio.base64EncodedString() + #""}"#) else {
            return ProviderMetrics.sttAudioDropped("openai", frames: 1)
        }
        sent.add(frame.samples.count, rate: frame.sampleRate)
    }

    /// `input_audio_buffer.commit`: transcribe what is buffered now instead of waiting for the
    /// server VAD's silence.
    func flush() async throws {
        pending.committing()
        try socket.post(#"{"type":"input_audio_buffer.commit"}"#)
    }

    /// Waits (up to 3 s) for the transcripts of what was committed, then closes: like Deepgram's
    /// CloseStream, the words said just before the end are not lost.
    func close() async {
        let deadline = ContinuousClock.now + .seconds(3)
        while pending.outstanding, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        pending.end()
        await socket.close()
        reader.cancel()
        if let seconds = sent.seconds { ProviderMetrics.usage(provider, .stt, unit: "audio_seconds", seconds) }
    }
}

/// Server events into transcripts: deltas accumulate per conversation item (interim), the
/// completed event is the item's final text; `error` and a failed transcription fail the stream,
/// except an empty buffer committed by `flush` (nothing was pending).
struct TranscriptDeltas {
    private var text: [String: String] = [:]
    /// The type of the last event read (with the error code for `error`), for `RealtimePending`.
    private(set) var lastEvent = ""

    mutating func event(_ json: String, provider: String) throws -> Transcript? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], let type = o["type"] as? String else {
            throw ProviderError(provider: provider, kind: .malformed, message: "event is not JSON with a type: \(json.prefix(80))")
        }
        lastEvent = type == "error" ? "error:" + ((o["error"] as? [String: Any])?["code"] as? String ?? "") : type
        let item = o["item_id"] as? String ?? ""
        switch type {
        case "conversation.item.input_audio_transcription.delta":
            let sofar = (text[item] ?? "") + (o["delta"] as? String ?? "")
            text[item] = sofar
            let trimmed = sofar.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : Transcript(text: trimmed, isFinal: false)
        case "conversation.item.input_audio_transcription.completed":
            text[item] = nil
            return Transcript(text: (o["transcript"] as? String ?? "").trimmingCharacters(in: .whitespaces), isFinal: true)
        case "conversation.item.input_audio_transcription.failed", "error":
            let e = o["error"] as? [String: Any] ?? [:]
            let code = e["code"] as? String ?? e["type"] as? String
            if code == "input_audio_buffer_commit_empty" { return nil }
            let kind: ProviderError.Kind = switch e["type"] as? String {
            case "invalid_request_error": .badRequest
            case "rate_limit_error", "rate_limit_exceeded": .rateLimited
            case "authentication_error": .authentication
            default: code == "rate_limit_exceeded" ? .rateLimited : .server
            }
            throw ProviderError(provider: provider, kind: kind, code: code, message: e["message"] as? String ?? type)
        default:
            return nil  // session.*, input_audio_buffer.*, conversation.item.* carry nothing to say
        }
    }
}

/// Commits asked for and not yet acknowledged, and utterances committed and not yet transcribed.
final class RealtimePending: Sendable {
    private let counts = Mutex((commits: 0, items: 0, ended: false))

    func committing() { counts.withLock { $0.commits += 1 } }

    func update(_ event: String) {
        counts.withLock { c in
            switch event {
            case "input_audio_buffer.committed":
                // Committed by our flush, or by the server's VAD (which we did not count).
                c.commits = max(0, c.commits - 1)
                c.items += 1
            case "error:input_audio_buffer_commit_empty": c.commits = max(0, c.commits - 1)
            case "conversation.item.input_audio_transcription.completed", "conversation.item.input_audio_transcription.failed":
                c.items = max(0, c.items - 1)
            default: break
            }
        }
    }

    /// The session ended (closed or failed): nothing more will come.
    func end() { counts.withLock { $0.ended = true } }

    var hasEnded: Bool { counts.withLock { $0.ended } }

    var outstanding: Bool { counts.withLock { !$0.ended && ($0.commits > 0 || $0.items > 0) } }
}

/// Audio sent so far, for the usage metric.
final class SampleCount: Sendable {
    private let value = Mutex((samples: 0, rate: 0))
    func add(_ samples: Int, rate: Int) { value.withLock { $0.samples += samples; $0.rate = rate } }
    var seconds: Double? { value.withLock { $0.rate > 0 ? Double($0.samples) / Double($0.rate) : nil } }
}
