import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// ElevenLabs over its input-streaming WebSocket (`/v1/text-to-speech/{voice}/stream-input`):
/// the opening message (a single space, voice settings, a short chunk schedule so audio starts
/// early), the sentence with `flush`, then the empty text that ends the input; audio comes back
/// as base64 in the output format asked for — `ulaw_8000` for G.711 calls, no resampling.
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

    public init(apiKey: String, voiceID: String, model: String = "eleven_flash_v2_5", output: Output = .ulaw8000,
                baseURL: String = "wss://api.elevenlabs.io") throws {
        guard !voiceID.isEmpty, voiceID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw SiphonError(.configuration, "tts.voice: an ElevenLabs voice id (letters and digits)")
        }
        (self.apiKey, self.voiceID, self.model, self.output, self.baseURL) = (apiKey, voiceID, model, output, baseURL)
    }

    public var name: String { "elevenlabs:\(model)" }
    public var sampleRate: Int { output.rate }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let url = "\(baseURL)/v1/text-to-speech/\(voiceID)/stream-input?model_id=\(model)&output_format=\(output.rawValue)"
        var settings: [String: Any] = [:]
        if let stability { settings["stability"] = stability }
        if let similarityBoost { settings["similarity_boost"] = similarityBoost }
        var opening: [String: Any] = ["text": " ", "generation_config": ["chunk_length_schedule": [50]]]
        if !settings.isEmpty { opening["voice_settings"] = settings }
        let messages = try [opening, ["text": text.hasSuffix(" ") ? text : text + " ", "flush": true], ["text": ""]]
            .map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        let started = RequestClock()
        let socket = try await WebSocketConnection.connect(url, headers: [("xi-api-key", apiKey)], provider: "elevenlabs", classify: Self.handshakeError)
        let rate = sampleRate, mulaw = output == .ulaw8000
        return AsyncThrowingStream { c in
            let task = Task {
                var clock = started
                var framer = PCMFramer(sampleRate: rate, encoding: mulaw ? .mulaw : .linear16)
                var inBand: ProviderError?
                var sendFailure: (any Error)?
                do {
                    // A send can fail because the server already closed on an error it sent
                    // in-band: read first, blame the send only if the server said nothing.
                    for m in messages {
                        do { try await socket.send(m) } catch { sendFailure = error; break }
                    }
                    reading: for try await message in socket.messages {
                        guard case .text(let json) = message,
                              let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { continue }
                        if let b64 = o["audio"] as? String, let data = Data(base64Encoded: b64) {
                            let frames = framer.feed(data)
                            for f in frames {
                                clock.firstByte()
                                c.yield(f)
                            }
                        }
                        if let error = o["error"] as? String {
                            // In-band error, then the server closes with the same code.
                            inBand = ProviderError(provider: "elevenlabs", kind: error.contains("quota") ? .quotaExceeded : error.contains("rate") || error.contains("concurrent") ? .rateLimited : .badRequest,
                                                   code: error, message: o["message"] as? String ?? error)
                        }
                        if o["isFinal"] as? Bool == true { break reading }
                    }
                    if let inBand { throw inBand }
                    if let sendFailure { throw sendFailure }
                    if let close = socket.serverClose, close.code != 1000 {
                        throw ProviderError(provider: "elevenlabs", kind: .server, code: String(close.code), message: close.reason)
                    }
                    if let last = framer.finish() { c.yield(last) }
                    socket.abort()
                    ProviderMetrics.usage("elevenlabs", .tts, unit: "characters", Double(text.count))
                    clock.finish("elevenlabs", .tts)
                    c.finish()
                } catch {
                    socket.abort()
                    clock.finish("elevenlabs", .tts, error: inBand ?? error)
                    c.finish(throwing: inBand ?? error)
                }
            }
            c.onTermination = { _ in
                task.cancel()
                socket.abort()
            }
        }
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
            let m = try p.checked(["voice", "model", "output_format", "stability", "similarity_boost", "api_key", "base_url"])
            let key = try APIKey.resolve(explicit: m.string("api_key") ?? env["ELEVENLABS_API_KEY"], environment: env, variable: "ELEVEN_API_KEY",
                                         provider: "elevenlabs", path: p.path)
            guard let output = ElevenLabsTTS.Output(rawValue: try m.string("output_format") ?? "ulaw_8000") else {
                throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "output_format")): ulaw_8000, pcm_16000, pcm_22050, pcm_24000 or pcm_44100")
            }
            var tts = try ElevenLabsTTS(apiKey: key, voiceID: try m.require("voice").string(), model: try m.string("model") ?? "eleven_flash_v2_5",
                                        output: output, baseURL: try m.string("base_url") ?? "wss://api.elevenlabs.io")
            tts.stability = try m.number("stability")
            tts.similarityBoost = try m.number("similarity_boost")
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
        let started = ContinuousClock.now
        let response = try await client.send("/v1/models", method: .GET, headers: [("xi-api-key", apiKey)], body: nil)
        _ = try await response.body.collect(upTo: 1 << 20)
        return ContinuousClock.now - started
    }
}
