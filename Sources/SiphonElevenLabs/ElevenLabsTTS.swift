import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// ElevenLabs over its multi-context WebSocket (`/v1/text-to-speech/{voice}/multi-stream-input`):
/// sockets kept open and shared by every call on the worker (at most five contexts each, the
/// provider's limit), one context per sentence — opened with a single space, voice settings and a
/// short chunk schedule so audio starts early, the sentence with `flush`, then `close_context` —
/// and its audio routed back by `contextId` as base64 in the output format asked for: `ulaw_8000`
/// for G.711 calls, no resampling. A barge-in stops listening to the context.
public struct ElevenLabsTTS: TextToSpeech {
    public enum Output: String, Sendable {
        case ulaw8000 = "ulaw_8000"
        case pcm16000 = "pcm_16000"
        case pcm22050 = "pcm_22050"
        case pcm24000 = "pcm_24000"
        case pcm44100 = "pcm_44100"

        var rate: Int {
            switch self {
            case .ulaw8000: 8000
            case .pcm16000: 16000
            case .pcm22050: 22050
            case .pcm24000: 24000
            case .pcm44100: 44100
            }
        }
    }

    public let apiKey: String
    public let voiceID: String
    public let model: String
    public let output: Output
    public var stability: Double?
    public var similarityBoost: Double?
    public var baseURL: String
    /// A sentence with no audio by then fails with `timeout` (the next voice in a fallback chain takes it).
    public var firstAudioTimeout: Duration = .seconds(10)
    let sockets: ContextSocketPool

    /// The provider's limit on concurrent contexts per connection.
    public static let contextsPerSocket = 5

    public init(apiKey: String, voiceID: String, model: String = "eleven_flash_v2_5", output: Output = .ulaw8000,
                baseURL: String = "wss://api.elevenlabs.io") throws {
        guard !voiceID.isEmpty, voiceID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw SiphonError(.configuration, "tts.voice: an ElevenLabs voice id (letters and digits)")
        }
        (self.apiKey, self.voiceID, self.model, self.output, self.baseURL) = (apiKey, voiceID, model, output, baseURL)
        // inactivity_timeout at its maximum: an idle shared socket is closed by the server after
        // that long and reopened on next use.
        let url = "\(baseURL)/v1/text-to-speech/\(voiceID)/multi-stream-input?model_id=\(model)&output_format=\(output.rawValue)&inactivity_timeout=180"
        let headers = [("xi-api-key", apiKey)]
        sockets = ContextSocketPool(contextsPerSocket: Self.contextsPerSocket) {
            ContextSocket(url: url, headers: headers, provider: "elevenlabs", classify: Self.handshakeError, router: Self.route)
        }
    }

    public var name: String { "elevenlabs:\(model)" }
    public var sampleRate: Int { output.rate }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let contextID = "siphon-" + UUID().uuidString.lowercased()
        var settings: [String: Any] = [:]
        if let stability { settings["stability"] = stability }
        if let similarityBoost { settings["similarity_boost"] = similarityBoost }
        var opening: [String: Any] = ["text": " ", "context_id": contextID, "generation_config": ["chunk_length_schedule": [50]]]
        if !settings.isEmpty { opening["voice_settings"] = settings }
        let close = Self.json(["context_id": contextID, "close_context": true])
        let messages = [Self.json(opening), Self.json(["text": text.hasSuffix(" ") ? text : text + " ", "context_id": contextID, "flush": true]), close]
        let started = RequestClock()
        let (socket, chunks) = try await sockets.start(contextID, messages: messages, firstAudioTimeout: firstAudioTimeout)
        let rate = sampleRate, mulaw = output == .ulaw8000, sockets = self.sockets
        return ProviderStream.make("elevenlabs", .tts, started: started) { emit in
            var framer = PCMFramer(sampleRate: rate, encoding: mulaw ? .mulaw : .linear16)
            do {
                try await withTaskCancellationHandler {
                    for try await bytes in chunks {
                        for f in framer.feed(bytes) { emit(f) }
                    }
                } onCancel: {
                    // The context was closed with the sentence: ElevenLabs finishes it whatever we
                    // send, so a barge-in only stops listening (its late audio is dropped).
                    Task { await socket.cancel(contextID, message: nil) }
                }
            } catch {
                await sockets.release(socket)
                throw error
            }
            await sockets.release(socket)
            if let last = framer.finish() { emit(last) }
            ProviderMetrics.usage("elevenlabs", .tts, unit: "characters", Double(text.count))
        }
    }

    static func json(_ object: [String: Any]) -> String {
        // Only strings, numbers, booleans and arrays of them: serialisation cannot fail.
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// `audio` (base64) and `isFinal` by `contextId`; an in-band error (`{message, error, code}`,
    /// then a close with that code) fails its context, or every context when it names none.
    @Sendable static func route(_ text: String) -> ContextSocket.Event {
        guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failed(context: nil, ProviderError(provider: "elevenlabs", kind: .malformed, message: "message is not JSON"))
        }
        let id = o["contextId"] as? String ?? o["context_id"] as? String
        if let error = o["error"] as? String {
            let kind: ProviderError.Kind = error.contains("quota") ? .quotaExceeded : error.contains("rate") || error.contains("concurrent") ? .rateLimited : .badRequest
            return .failed(context: id, ProviderError(provider: "elevenlabs", kind: kind, code: error, message: o["message"] as? String ?? error))
        }
        guard let id else { return .ignored }
        if let b64 = o["audio"] as? String {
            guard let data = Data(base64Encoded: b64) else {
                return .failed(context: id, ProviderError(provider: "elevenlabs", kind: .malformed, message: "audio that is not base64"))
            }
            return .audio(context: id, bytes: [UInt8](data), last: o["isFinal"] as? Bool == true)
        }
        return o["isFinal"] as? Bool == true ? .done(context: id) : .ignored
    }

    static func handshakeError(_ status: Int, _ headers: [(String, String)], _ body: String) -> ProviderError {
        struct Wire: Decodable { struct D: Decodable { var status: String?; var message: String? }; var detail: D? }
        let wire = try? JSONDecoder().decode(Wire.self, from: Data(body.utf8))
        return ProviderError(provider: "elevenlabs", kind: ProviderError.kind(forStatus: status), status: status, code: wire?.detail?.status,
                             message: wire?.detail?.message ?? body, requestID: headers.first { $0.0.lowercased() == "request-id" }?.1)
    }
}

/// `tts.provider: elevenlabs`, key from `ELEVEN_API_KEY` (or `ELEVENLABS_API_KEY`, or `api_key`).
public enum ElevenLabsPlugins {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.tts["elevenlabs"] = { p, env in
            let m = try p.checked(["voice", "model", "output_format", "stability", "similarity_boost", "api_key", "base_url", "timeout"])
            let key = try APIKey.resolve(explicit: m.string("api_key") ?? env["ELEVENLABS_API_KEY"], environment: env, variable: "ELEVEN_API_KEY",
                                         provider: "elevenlabs", path: p.path)
            guard let output = ElevenLabsTTS.Output(rawValue: try m.string("output_format") ?? "ulaw_8000") else {
                throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "output_format")): ulaw_8000, pcm_16000, pcm_22050, pcm_24000 or pcm_44100")
            }
            var tts = try ElevenLabsTTS(apiKey: key, voiceID: try m.require("voice").string(), model: try m.string("model") ?? "eleven_flash_v2_5",
                                        output: output, baseURL: try m.string("base_url") ?? "wss://api.elevenlabs.io")
            tts.stability = try m.number("stability")
            tts.similarityBoost = try m.number("similarity_boost")
            if let t = try ProviderOptions.timeout(m) { tts.firstAudioTimeout = t }
            return tts
        }
        return r
    }
}

extension ElevenLabsTTS {
    /// The smallest authenticated request (`GET /v1/models`).
    public static func check(apiKey: String, baseURL: String = "https://api.elevenlabs.io") async throws -> Duration {
        let client = ProviderHTTPClient(provider: "elevenlabs", baseURL: baseURL) { status, body, headers in
            handshakeError(status, headers.map { ($0.name, $0.value) }, String(decoding: body.prefix(300), as: UTF8.self))
        }
        return try await client.probe("/v1/models", headers: [("xi-api-key", apiKey)])
    }
}
