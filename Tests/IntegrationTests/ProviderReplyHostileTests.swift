import Foundation
import Testing
import SiphonCore
@testable import SiphonAnthropic
@testable import SiphonCartesia
@testable import SiphonDeepgram
@testable import SiphonElevenLabs
@testable import SiphonOpenAI

/// What a provider (or a proxy in front of it) sends back, mutated: SSE streams and WebSocket
/// messages near valid ones. Each parser must turn every one into events or a `ProviderError`,
/// never trap. Seeded: the same inputs on every run.
@Suite struct ProviderReplyHostileTests {
    static let openAIStream = Array("""
        data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}

        data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"book","arguments":"{\\"day\\":"}}]}}]}

        data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Tue\\"}"}}]},"finish_reason":"tool_calls"}]}

        data: {"id":"c","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":8,"total_tokens":12}}

        data: [DONE]


        """.utf8)

    static let anthropicStream = Array("""
        event: message_start
        data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"usage":{"input_tokens":4,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"book","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"day\\": \\"Tue\\"}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}

        event: message_stop
        data: {"type":"message_stop"}


        """.utf8)

    @Test func llmStreamsNeverTrap() throws {
        // The seeds themselves are whole, valid streams.
        var openAISeed = ChatCompletionStreamParser(provider: "openai")
        #expect(try openAISeed.feed(Self.openAIStream).count + openAISeed.finish().count == 3)  // text, tool call, usage
        var anthropicSeed = MessagesStreamParser()
        #expect(try anthropicSeed.feed(Self.anthropicStream).count >= 2 && anthropicSeed.isDone)
        var rng = SeededRandom(seed: 6)
        var events = 0
        for _ in 0..<3000 {
            var openAI = ChatCompletionStreamParser(provider: "openai")
            var anthropic = MessagesStreamParser()
            // Whole streams, then the same bytes in two pieces at a random split.
            let a = rng.mutated(Self.openAIStream), b = rng.mutated(Self.anthropicStream)
            events += ((try? openAI.feed(a)) ?? []).count
            _ = try? openAI.finish()
            let cut = Int.random(in: 0...b.count, using: &rng)
            events += ((try? anthropic.feed(b[..<cut])) ?? []).count + ((try? anthropic.feed(b[cut...])) ?? []).count
        }
        #expect(events > 1000, "\(events) events")  // the accepting paths are exercised, not only the refusals
    }

    @Test func speechSocketMessagesNeverTrap() {
        var rng = SeededRandom(seed: 7)
        let deepgram = Array(#"{"type":"Results","channel":{"alternatives":[{"transcript":"book tuesday","confidence":0.98}]},"is_final":true,"speech_final":true}"#.utf8)
        let cartesia = Array(#"{"type":"chunk","context_id":"siphon-1","data":"AAEC","done":false,"status_code":206}"#.utf8)
        let eleven = Array(#"{"audio":"AAEC","contextId":"siphon-1","isFinal":null,"normalizedAlignment":{"chars":["a"]}}"#.utf8)
        let realtime = Array(#"{"type":"conversation.item.input_audio_transcription.delta","event_id":"e1","item_id":"item_1","content_index":0,"delta":" tues"}"#.utf8)
        var understood = 0
        var deltas = TranscriptDeltas()
        for _ in 0..<5000 {
            if (try? DeepgramSTTStream.transcript(String(decoding: rng.mutated(deepgram), as: UTF8.self))) != nil { understood += 1 }
            if case .audio = CartesiaTTS.route(String(decoding: rng.mutated(cartesia), as: UTF8.self)) { understood += 1 }
            if case .audio = ElevenLabsTTS.route(String(decoding: rng.mutated(eleven), as: UTF8.self)) { understood += 1 }
            if (try? deltas.event(String(decoding: rng.mutated(realtime), as: UTF8.self), provider: "openai")) != nil { understood += 1 }
        }
        #expect(understood > 500, "\(understood) messages understood")
    }
}
