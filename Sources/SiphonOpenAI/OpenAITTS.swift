import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// `/v1/audio/speech` with `response_format: pcm`: raw 24 kHz 16-bit mono, streamed, cut into
/// 20 ms frames as the bytes arrive (the first frame leaves after 960 bytes).
public struct OpenAITTS: TextToSpeech {
    public let configuration: OpenAIConfiguration
    public let model: String
    public let voice: String
    public var speed: Double?
    public var instructions: String?
    let client: ProviderHTTPClient

    public static let voices: Set<String> = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"]

    public init(configuration: OpenAIConfiguration, model: String = "gpt-4o-mini-tts", voice: String = "alloy", speed: Double? = nil,
                instructions: String? = nil) throws {
        if let speed, !(0.25...4).contains(speed) { throw SiphonError(.configuration, "tts.speed must be 0.25 to 4") }
        (self.configuration, self.model, self.voice, self.speed, self.instructions) = (configuration, model, voice, speed, instructions)
        client = configuration.client()
    }

    public var name: String { "\(configuration.provider):\(model):\(voice)" }
    public let sampleRate = 24_000

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        guard text.count <= 4096 else { throw SiphonError.invalid("OpenAI speech input is limited to 4096 characters") }
        var body: [String: Any] = ["model": model, "input": text, "voice": voice, "response_format": "pcm"]
        if let speed { body["speed"] = speed }
        if let instructions { body["instructions"] = instructions }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return ProviderStream.pcmSpeech(client: client, path: "/audio/speech", headers: configuration.headers + [("Accept", "application/octet-stream")],
                                        body: data, sampleRate: sampleRate, characters: text.count, retry: configuration.retry)
    }
}
