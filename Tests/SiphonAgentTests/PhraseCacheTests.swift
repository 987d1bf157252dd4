import Foundation
import Testing
@testable import SiphonAgent
import SiphonAudio
import SiphonCore

/// An agent's fixed lines, synthesised once: kept whole, bounded, warmed once however often asked,
/// and said from the cache by the next call (greeting, filler), never a line cut short.
@Suite(.timeLimit(.minutes(1)))
struct PhraseCacheTests {
    @Test func theMostRecentlyStoredLinesAreKeptAndLongOnesNever() {
        let cache = PhraseCache(capacity: 2, longestSeconds: 1)
        cache.store("a", rate: 8000, samples: [1, 2])
        cache.store("b", rate: 8000, samples: [3])
        cache.store("a", rate: 8000, samples: [1, 2])  // stored again: the most recent
        cache.store("c", rate: 8000, samples: [4])
        #expect(cache.audio("a", rate: 8000) == [1, 2] && cache.audio("c", rate: 8000) == [4])
        #expect(cache.audio("b", rate: 8000) == nil, "the oldest goes")
        #expect(cache.audio("a", rate: 16000) == nil, "another rate is another line")
        cache.store("long", rate: 8000, samples: [Int16](repeating: 1, count: 8001))
        cache.store("empty", rate: 8000, samples: [])
        #expect(cache.audio("long", rate: 8000) == nil && cache.audio("empty", rate: 8000) == nil && cache.count == 2)
        // A budget of samples: the oldest go until the lines fit.
        let small = PhraseCache(budget: 10)
        small.store("a", rate: 8000, samples: [Int16](repeating: 1, count: 6))
        small.store("b", rate: 8000, samples: [Int16](repeating: 2, count: 6))
        #expect(small.audio("a", rate: 8000) == nil && small.audio("b", rate: 8000)?.count == 6 && small.count == 1)
        small.store("b", rate: 8000, samples: [Int16](repeating: 3, count: 4))
        small.store("c", rate: 8000, samples: [Int16](repeating: 4, count: 6))
        #expect(small.audio("b", rate: 8000)?.count == 4 && small.audio("c", rate: 8000)?.count == 6, "b stored again counts once")
        // Past its age a line is synthesised again (a fallback voice's line does not stay for good).
        let aged = PhraseCache(maxAge: .zero)
        aged.store("a", rate: 8000, samples: [1])
        #expect(aged.audio("a", rate: 8000) == nil)
    }

    @Test func aLineWarmedTwiceIsSynthesisedOnceAndAFailureIsNotKept() async throws {
        let tts = CountingTTS(failing: ["Broken."])
        let cache = PhraseCache()
        cache.warm("Hello there.", tts: tts, rate: 8000)
        cache.warm("Hello there.", tts: tts, rate: 8000)
        cache.warm("Broken.", tts: tts, rate: 8000)
        for _ in 0..<500 where cache.audio("Hello there.", rate: 8000) == nil || tts.count("Broken.") == 0 {
            try await Task.sleep(for: .milliseconds(2))
        }
        // Two words of ToneTTS: 20 frames of 20 ms, resampled to 8 kHz (less the resampler's delay).
        let kept = try #require(cache.audio("Hello there.", rate: 8000))
        #expect(kept.count > 19 * 160 && kept.count <= 20 * 160, "\(kept.count) samples")
        #expect(tts.count("Hello there.") == 1)
        cache.warm("Hello there.", tts: tts, rate: 8000)
        #expect(tts.count("Hello there.") == 1, "kept: not synthesised again")
        try await Task.sleep(for: .milliseconds(50))
        #expect(cache.audio("Broken.", rate: 8000) == nil, "a line the provider dropped is not kept")
    }

    @Test func aLineAskedForWhileItIsWarmedWaitsForTheWarmUp() async throws {
        let tts = CountingTTS(delay: .milliseconds(300))
        let cache = PhraseCache()
        cache.warm("Hello there.", tts: tts, rate: 8000)
        let (samples, cached) = try await cache.line("Hello there.", tts: tts, rate: 8000)
        #expect(tts.count("Hello there.") == 1, "synthesised once, not again for the call: \(tts.requests)")
        #expect(cached && samples == cache.audio("Hello there.", rate: 8000))
        // A caller cancelled while it waits (a barge-in) stops waiting; the warm-up goes on.
        let slow = CountingTTS(delay: .seconds(20))
        let slowCache = PhraseCache()
        slowCache.warm("Hi.", tts: slow, rate: 8000)
        let waiting = Task { try await slowCache.line("Hi.", tts: slow, rate: 8000) }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(slow.count("Hi.") == 1 && slowCache.audio("Hi.", rate: 8000) == nil, "it returned before the warm-up ended")
    }

    @Test func theNextCallSaysTheGreetingFromTheCache() async throws {
        let tts = CountingTTS()
        let agent = Agent(name: "T", llm: ScriptedLLM([]), tts: tts, stt: ScriptedSTT([]), instructions: "x", greeting: "Hi, this is Bright Smile Dental.")
        var sent: [Int] = []
        var cachedFlags: [String?] = []
        for _ in 0..<2 {
            let run = ConversationTests.Run(agent: agent)
            await run.feedSilence(until: { run.store.all.count == 1 })
            sent.append(run.line.sentFrames)
            cachedFlags.append(run.store.all.first?.extra["tts.cached"])
            #expect(run.store.all.map(\.text) == ["Hi, this is Bright Smile Dental."])
            _ = await run.finish()
        }
        #expect(tts.count("Hi, this is Bright Smile Dental.") == 1, "\(tts.requests)")
        #expect(cachedFlags == [nil, "true"], "the second greeting's turn says where its audio came from")
        #expect(sent[0] == 60 && sent[1] == 60, "the same line both times: \(sent)")
        // Another voice: its own lines, not the first voice's.
        var other = agent
        other.tts = CountingTTS()
        #expect(other.phrases.count == 0 && agent.phrases.count == 1)
    }

    @Test func aGreetingTheProviderDroppedIsSynthesisedAgainNextCall() async throws {
        let tts = CountingTTS(failing: ["Hi."])
        let agent = Agent(name: "T", llm: ScriptedLLM([]), tts: tts, stt: ScriptedSTT([]), instructions: "x", greeting: "Hi.")
        for call in 1...2 {
            let run = ConversationTests.Run(agent: agent)
            await run.feedSilence(until: { tts.count("Hi.") == call && run.line.queuedFrames == 0 }, limit: 50)
            _ = await run.finish()
        }
        #expect(tts.count("Hi.") == 2 && agent.phrases.count == 0, "\(tts.requests)")
    }
}
