import Foundation
import Testing
import SiphonAudio
@testable import SiphonProviderKit

/// The parts of the provider clients that need no server: SSE framing, retry decisions, framing
/// of streamed PCM.
struct WireTests {
    @Test func sseSplitsEventsWhereverTheChunksBreak() throws {
        let stream = "data: {\"a\":1}\r\n\r\n: a comment\nevent: message_stop\ndata: {}\n\ndata: one\ndata:two\n\nid: 7\rdata: x\r\r"
        let bytes = Array(stream.utf8)
        // Every split point, including between CR and LF, gives the same events.
        for cut in 0...bytes.count {
            var d = SSEDecoder()
            let events = try d.feed(bytes[..<cut]) + d.feed(bytes[cut...])
            #expect(events == [
                SSEEvent(event: nil, data: "{\"a\":1}", id: nil), SSEEvent(event: "message_stop", data: "{}", id: nil),
                SSEEvent(event: nil, data: "one\ntwo", id: nil), SSEEvent(event: nil, data: "x", id: "7"),
            ], "cut at \(cut)")
        }
        var d = SSEDecoder()
        // Half an event yields nothing (a truncated stream never hands out half a JSON object) until its end comes.
        #expect(try d.feed(Array("data: {\"half\":".utf8)).isEmpty)
        #expect(try d.feed(Array(" 1}\n\n".utf8)) == [SSEEvent(event: nil, data: "{\"half\": 1}", id: nil)])
        d.maxLineBytes = 16
        #expect(throws: SSEError.self) { try d.feed(Array(repeating: UInt8(ascii: "x"), count: 64)) }
    }

    @Test func retryHonoursRetryAfterAndGivesUpOnWhatWaitingCannotFix() {
        let policy = RetryPolicy(maxRetries: 2)
        let limited = ProviderError(provider: "p", kind: .rateLimited, status: 429, message: "", retryAfter: .milliseconds(1500))
        #expect(policy.delay(beforeRetry: 0, after: limited) == .milliseconds(1500))
        #expect(policy.delay(beforeRetry: 2, after: limited) == nil)
        var tooLong = limited
        tooLong.retryAfter = .seconds(600)
        #expect(policy.delay(beforeRetry: 0, after: tooLong) == nil)
        let server = ProviderError(provider: "p", kind: .server, status: 503, message: "")
        #expect(policy.delay(beforeRetry: 0, after: server, jitter: 0) == .milliseconds(500))
        #expect(policy.delay(beforeRetry: 1, after: server, jitter: 0.25) == .milliseconds(750))
        for kind in [ProviderError.Kind.quotaExceeded, .authentication, .badRequest, .circuitOpen] {
            #expect(policy.delay(beforeRetry: 0, after: ProviderError(provider: "p", kind: kind, message: "")) == nil, "\(kind)")
        }
        #expect(policy.delay(beforeRetry: 0, after: CancellationError()) == nil)
        let headers = ["retry-after-ms": "250", "retry-after": "9"]
        #expect(RetryPolicy.retryAfter { headers[$0] } == .milliseconds(250))
        #expect(RetryPolicy.retryAfter { ["retry-after": "2.5"][$0] } == .milliseconds(2500))
        // 1 800 000 000 s is 2027-01-15 08:00:00 UTC: the HTTP-date is ten seconds later.
        let date = "Fri, 15 Jan 2027 08:00:10 GMT"
        #expect(RetryPolicy.retryAfter({ ["retry-after": date][$0] }, now: Date(timeIntervalSince1970: 1_800_000_000)) == .seconds(10))
        #expect(RetryPolicy.retryAfter { ["retry-after": "soon"][$0] } == nil)
        // Values a Double parses but an Int64 cannot hold used to trap the worker.
        let day = Duration.seconds(86_400)
        for (junk, wait) in [("inf", nil), ("-inf", nil), ("nan", nil), ("-5", nil), ("1e300", day)] as [(String, Duration?)] {
            #expect(RetryPolicy.retryAfter { ["retry-after": junk][$0] } == wait, "\(junk)")
            #expect(RetryPolicy.retryAfter { ["retry-after-ms": junk, "retry-after": "3"][$0] } == wait ?? .seconds(3), "ms \(junk)")
        }
    }

    @Test func pcmFramesDoNotDependOnChunkBoundaries() {
        let samples = (0..<1000).map { Int16(truncatingIfNeeded: $0 * 37) }
        let bytes = samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        for chunk in [1, 7, 480, 999, 2000] {
            var framer = PCMFramer(sampleRate: 24_000)
            var frames: [AudioFrame] = []
            var i = 0
            while i < bytes.count {
                frames += framer.feed(bytes[i..<min(bytes.count, i + chunk)])
                i += chunk
            }
            if let last = framer.finish() { frames.append(last) }
            #expect(frames.count == 3 && frames.allSatisfy { $0.samples.count == 480 }, "chunk \(chunk)")
            #expect(Array(frames.flatMap(\.samples).prefix(1000)) == samples, "chunk \(chunk)")
        }
        // μ-law (Cartesia pcm_mulaw, ElevenLabs ulaw_8000): one byte per sample, decoded as it is framed.
        let codes = (0..<400).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var mulaw = PCMFramer(sampleRate: 8000, encoding: .mulaw)
        let frames = mulaw.feed(codes[..<150]) + mulaw.feed(codes[150...]) + [mulaw.finish()].compactMap { $0 }
        #expect(frames.count == 3 && frames.allSatisfy { $0.samples.count == 160 })
        #expect(Array(frames.flatMap(\.samples).prefix(400)) == codes.map(G711.ulawDecode))
    }

    @Test func theCircuitOpensOnProviderFaultsOnlyAndTriesAgainAfterTheCooldown() async throws {
        let breaker = CircuitBreaker(name: "test", threshold: 3, cooldown: .milliseconds(50))
        let fault = ProviderError(provider: "p", kind: .server, status: 503, message: "")
        for _ in 0..<5 { breaker.failed(ProviderError(provider: "p", kind: .badRequest, status: 400, message: "")) }
        #expect(breaker.current == .closed)
        // Requests we cancelled (500 callers hanging up at once) are not the provider failing.
        let canceled = ProviderHTTPClient.transportError("p", CancellationError())
        #expect(canceled.kind == .canceled && !canceled.isRetryable)
        for _ in 0..<5 { breaker.failed(canceled) }
        #expect(breaker.current == .closed)
        for _ in 0..<3 { breaker.failed(fault) }
        #expect(breaker.current == .open)
        #expect(throws: ProviderError.self) { try breaker.admit() }
        try await Task.sleep(for: .milliseconds(80))
        try breaker.admit()  // the trial
        #expect(throws: ProviderError.self) { try breaker.admit() }  // only one trial at a time
        breaker.succeeded()
        #expect(breaker.current == .closed)
    }
}
