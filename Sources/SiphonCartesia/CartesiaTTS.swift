import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// Cartesia Sonic over its WebSocket (`/tts/websocket`). One socket per voice, kept open and
/// shared by every call on the worker; each sentence is a context of its own (`context_id`),
/// sent as a continuation (`continue: true`) and closed with an empty transcript, so the
/// sentence's audio streams back as soon as the model has it. For G.711 calls the output is
/// `pcm_mulaw` at 8 kHz, exactly the line's format: no resampling anywhere.
public struct CartesiaTTS: TextToSpeech {
    public enum Output: Sendable, Equatable {
        /// `pcm_mulaw` at 8 kHz (G.711 μ-law calls).
        case mulaw8k
        /// `pcm_s16le` at a rate of choice (the pipeline's rate).
        case linear(Int)
    }

    public let model: String
    public let voiceID: String
    public let output: Output
    public var language: String?
    /// A sentence with no audio by then fails with `timeout` (the next voice in a fallback chain takes it).
    public var firstAudioTimeout: Duration = .seconds(10)
    let connection: ContextSocket

    public static let version = "2024-11-13"

    public init(apiKey: String, voiceID: String, model: String = "sonic-2", output: Output = .mulaw8k, language: String? = nil,
                baseURL: String = "wss://api.cartesia.ai") throws {
        if case .linear(let rate) = output, ![8000, 16000, 22050, 24000, 44100, 48000].contains(rate) {
            throw SiphonError(.configuration, "tts.sample_rate must be 8000, 16000, 22050, 24000, 44100 or 48000")
        }
        guard !voiceID.isEmpty else { throw SiphonError(.configuration, "tts.voice: a Cartesia voice id is required") }
        (self.model, self.voiceID, self.output, self.language) = (model, voiceID, output, language)
        connection = ContextSocket(url: "\(baseURL)/tts/websocket?cartesia_version=\(Self.version)",
                                   headers: [("Authorization", "Bearer \(apiKey)"), ("Cartesia-Version", Self.version)], provider: "cartesia",
                                   classify: Self.handshakeError, router: Self.route)
    }

    public var name: String { "cartesia:\(model)" }
    public var sampleRate: Int { if case .linear(let r) = output { r } else { 8000 } }

    var outputFormat: [String: Any] {
        switch output {
        case .mulaw8k: ["container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000]
        case .linear(let r): ["container": "raw", "encoding": "pcm_s16le", "sample_rate": r]
        }
    }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let contextID = "siphon-" + UUID().uuidString.lowercased()
        var request: [String: Any] = ["context_id": contextID, "model_id": model, "transcript": text, "continue": true,
                                      "voice": ["mode": "id", "id": voiceID], "output_format": outputFormat]
        if let language { request["language"] = language }
        var end = request
        (end["transcript"], end["continue"]) = ("", false)
        let messages = [try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys]),
                        try JSONSerialization.data(withJSONObject: end, options: [.sortedKeys])].map { String(decoding: $0, as: UTF8.self) }
        let chunks = try await connection.start(contextID, messages: messages, firstAudioTimeout: firstAudioTimeout)
        let rate = sampleRate, mulaw = output == .mulaw8k, connection = self.connection
        return ProviderStream.make("cartesia", .tts) { emit in
            var framer = PCMFramer(sampleRate: rate, encoding: mulaw ? .mulaw : .linear16)
            try await withTaskCancellationHandler {
                for try await bytes in chunks {
                    for f in framer.feed(bytes) { emit(f) }
                }
            } onCancel: {
                // Barge-in: tell Cartesia to stop generating this context.
                Task { await connection.cancel(contextID, message: #"{"context_id":"\#(contextID)","cancel":true}"#) }
            }
            if let last = framer.finish() { emit(last) }
            ProviderMetrics.usage("cartesia", .tts, unit: "characters", Double(text.count))
        }
    }
}

extension CartesiaTTS {
    /// `chunk` (base64 audio), `done`, `error` (by `status_code`: 429 concurrency, 4xx request);
    /// timestamps and flush acknowledgements are not needed for speaking.
    @Sendable static func route(_ text: String) -> ContextSocket.Event {
        guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failed(context: nil, ProviderError(provider: "cartesia", kind: .malformed, message: "message is not JSON"))
        }
        guard let id = o["context_id"] as? String else { return .ignored }
        switch o["type"] as? String {
        case "chunk":
            guard let b64 = o["data"] as? String, let data = Data(base64Encoded: b64) else {
                return .failed(context: id, ProviderError(provider: "cartesia", kind: .malformed, message: "chunk without base64 data"))
            }
            return .audio(context: id, bytes: [UInt8](data), last: o["done"] as? Bool == true)
        case "done":
            return .done(context: id)
        case "error":
            let status = o["status_code"] as? Int
            return .failed(context: id, ProviderError(provider: "cartesia", kind: status.map(ProviderError.kind(forStatus:)) ?? .server, status: status,
                                                      code: o["error_code"] as? String,
                                                      message: o["message"] as? String ?? o["error"] as? String ?? o["title"] as? String ?? "error"))
        default:
            return .ignored
        }
    }

    @Sendable static func handshakeError(_ status: Int, _ headers: [(String, String)], _ body: String) -> ProviderError {
        struct Wire: Decodable { var error_code: String?; var message: String?; var title: String? }
        let wire = try? JSONDecoder().decode(Wire.self, from: Data(body.utf8))
        return ProviderError(provider: "cartesia", kind: ProviderError.kind(forStatus: status), status: status, code: wire?.error_code,
                             message: wire?.message ?? wire?.title ?? body, requestID: headers.first { $0.0.lowercased() == "x-request-id" }?.1)
    }
}

/// `tts.provider: cartesia`, key from `CARTESIA_API_KEY` or `api_key`.
public enum CartesiaPlugins {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.tts["cartesia"] = { p, env in
            let m = try p.checked(["model", "voice", "language", "encoding", "sample_rate", "api_key", "base_url", "timeout"])
            let key = try APIKey.resolve(explicit: m.string("api_key"), environment: env, variable: "CARTESIA_API_KEY", provider: "cartesia", path: p.path)
            let output: CartesiaTTS.Output = switch try m.string("encoding") ?? "pcm_mulaw" {
            case "pcm_mulaw": .mulaw8k
            case "pcm_s16le": .linear(try m.int("sample_rate") ?? 16000)
            default: throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "encoding")): pcm_mulaw (G.711 calls) or pcm_s16le")
            }
            var tts = try CartesiaTTS(apiKey: key, voiceID: try m.require("voice").string(), model: try m.string("model") ?? "sonic-2", output: output,
                                      language: try m.string("language"), baseURL: try m.string("base_url") ?? "wss://api.cartesia.ai")
            if let t = try ProviderOptions.timeout(m) { tts.firstAudioTimeout = t }
            return tts
        }
        return r
    }
}

extension CartesiaTTS {
    /// The smallest authenticated request (`GET /voices?limit=1` on the REST API).
    public static func check(apiKey: String, baseURL: String = "https://api.cartesia.ai") async throws -> Duration {
        let client = ProviderHTTPClient(provider: "cartesia", baseURL: baseURL) { status, body, headers in
            handshakeError(status, headers.map { ($0.name, $0.value) }, String(decoding: body.prefix(300), as: UTF8.self))
        }
        return try await client.probe("/voices?limit=1", headers: [("Authorization", "Bearer \(apiKey)"), ("Cartesia-Version", version)])
    }
}
