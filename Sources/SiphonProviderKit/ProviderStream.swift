import Foundation
import NIOCore
import SiphonAudio

/// The shape every streaming provider call shares: a task that produces items into a stream,
/// timed for the metrics (the first item is the first byte), cancelled with its consumer.
public enum ProviderStream {
    public static func make<T: Sendable>(
        _ provider: String, _ capability: ProviderMetrics.Capability, started: RequestClock = RequestClock(),
        _ body: @escaping @Sendable (_ emit: (T) -> Void) async throws -> Void
    ) -> AsyncThrowingStream<T, any Error> {
        AsyncThrowingStream { c in
            let task = Task {
                var clock = started
                do {
                    try await body { item in
                        clock.firstByte()
                        c.yield(item)
                    }
                    clock.finish(provider, capability)
                    c.finish()
                } catch {
                    clock.finish(provider, capability, error: error)
                    c.finish(throwing: error)
                }
            }
            c.onTermination = { _ in task.cancel() }
        }
    }

    /// Speech over HTTP as raw 16-bit PCM (OpenAI `/audio/speech`, Deepgram `/v1/speak`): retried
    /// until the first frame, then framed into 20 ms as the bytes arrive.
    public static func pcmSpeech(client: ProviderHTTPClient, path: String, headers: [(String, String)], body: Data, sampleRate: Int,
                                 characters: Int, retry: RetryPolicy) -> AsyncThrowingStream<AudioFrame, any Error> {
        Retrier.stream(retry) { _ in
            let started = RequestClock()
            let response = try await client.send(path, headers: headers, body: body)
            return make(client.provider, .tts, started: started) { emit in
                var framer = PCMFramer(sampleRate: sampleRate)
                var samples = 0
                for try await chunk in client.chunks(response) {
                    for f in framer.feed(chunk.readableBytesView) {
                        samples += f.samples.count
                        emit(f)
                    }
                }
                if let last = framer.finish() {
                    samples += last.samples.count
                    emit(last)
                }
                ProviderMetrics.usage(client.provider, .tts, unit: "characters", Double(characters))
                ProviderMetrics.usage(client.provider, .tts, unit: "audio_seconds", Double(samples) / Double(sampleRate))
            }
        }
    }
}
