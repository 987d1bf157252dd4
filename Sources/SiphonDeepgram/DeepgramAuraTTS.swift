import Foundation
import NIOHTTP1
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// Deepgram Aura over REST (`POST /v1/speak`): raw linear16 (no container) at the rate asked
/// for — 8 kHz for a G.711 call, so nothing is resampled — streamed into 20 ms frames.
public struct DeepgramAuraTTS: TextToSpeech {
    public let apiKey: String
    public let model: String
    public let sampleRate: Int
    public var retry = RetryPolicy()
    let client: ProviderHTTPClient

    public init(apiKey: String, model: String = "aura-2-thalia-en", sampleRate: Int = 8000, baseURL: String = "https://api.deepgram.com",
                options: ProviderOptions = ProviderOptions()) throws {
        guard [8000, 16000, 24000, 48000].contains(sampleRate) else { throw SiphonError(.configuration, "tts.sample_rate must be 8000, 16000, 24000 or 48000") }
        (self.apiKey, self.model, self.sampleRate, self.retry) = (apiKey, model, sampleRate, options.retry)
        client = ProviderHTTPClient(provider: "deepgram", baseURL: baseURL, firstByteTimeout: options.firstByteTimeout, limiter: options.limiter) { status, body, headers in
            DeepgramSTT.handshakeError(status, headers.map { ($0.name, $0.value) }, String(decoding: body.prefix(300), as: UTF8.self))
        }
    }

    public var name: String { "deepgram:\(model)" }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let body = try JSONSerialization.data(withJSONObject: ["text": text])
        let path = "/v1/speak?model=\(model)&encoding=linear16&sample_rate=\(sampleRate)&container=none"
        return ProviderStream.pcmSpeech(client: client, path: path, headers: [("Authorization", "Token \(apiKey)"), ("Content-Type", "application/json")],
                                        body: body, sampleRate: sampleRate, characters: text.count, retry: retry)
    }
}

extension DeepgramAuraTTS {
    /// The smallest authenticated request (`GET /v1/projects`).
    public func check() async throws -> Duration {
        try await client.probe("/v1/projects", headers: [("Authorization", "Token \(apiKey)")])
    }
}
