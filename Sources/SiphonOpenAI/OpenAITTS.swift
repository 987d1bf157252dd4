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
        let client = self.client, headers = configuration.headers + [("Accept", "application/octet-stream")], provider = configuration.provider
        let rate = sampleRate
        return Retrier.stream(configuration.retry) { _ in
            let started = RequestClock()
            let response = try await client.send("/audio/speech", headers: headers, body: data)
            return AsyncThrowingStream { c in
                let task = Task {
                    var clock = started
                    var framer = PCMFramer(sampleRate: rate)
                    var samples = 0
                    do {
                        for try await chunk in client.chunks(response) {
                            for f in framer.feed(chunk.readableBytesView) {
                                clock.firstByte()
                                samples += f.samples.count
                                c.yield(f)
                            }
                        }
                        if let last = framer.finish() { samples += last.samples.count; c.yield(last) }
                        ProviderMetrics.usage(provider, .tts, unit: "characters", Double(text.count))
                        ProviderMetrics.usage(provider, .tts, unit: "audio_seconds", Double(samples) / Double(rate))
                        clock.finish(provider, .tts)
                        c.finish()
                    } catch {
                        clock.finish(provider, .tts, error: error)
                        c.finish(throwing: error)
                    }
                }
                c.onTermination = { _ in task.cancel() }
            }
        }
    }
}
