import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import SiphonAgent
import SiphonAnthropic
import SiphonCore
import SiphonOpenAI
import SiphonProviderKit

/// What the provider clients cost on top of the network: a local server streams the same bytes a
/// provider would (SSE token chunks, raw PCM), and each stream is read twice in the same run —
/// raw by the HTTP client (the baseline) and through Siphon's client (parse, assemble, frame).
/// The difference per token or audio chunk is the client's overhead; parse-only figures take the
/// network out entirely.
struct BenchProvidersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "providers", abstract: "Provider client overhead per streamed token and audio chunk.")
    @Option(help: "Tokens per LLM stream.") var tokens: Int = 5000
    @Option(help: "Seconds of 24 kHz PCM per TTS stream.") var audioSeconds: Int = 60
    @Option(help: "Runs per measurement (the median is reported).") var runs: Int = 7
    @Flag(help: "JSON output.") var json = false

    struct Figure: Encodable {
        var units: Int
        var unit: String
        var rawMs: Double
        var clientMs: Double
        var overheadUsPerUnit: Double
        var ratio: Double
        enum CodingKeys: String, CodingKey {
            case units, unit, rawMs = "raw_ms", clientMs = "client_ms", overheadUsPerUnit = "overhead_us_per_unit", ratio = "ratio_client_to_raw"
        }
    }

    struct Report: Encodable {
        var openaiLLM: Figure
        var anthropicLLM: Figure
        var openaiTTS: Figure
        var parseOnlyOpenAIUsPerToken: Double
        var parseOnlyAnthropicUsPerToken: Double
        enum CodingKeys: String, CodingKey {
            case openaiLLM = "openai_llm_sse", anthropicLLM = "anthropic_llm_sse", openaiTTS = "openai_tts_pcm"
            case parseOnlyOpenAIUsPerToken = "parse_only_openai_us_per_token", parseOnlyAnthropicUsPerToken = "parse_only_anthropic_us_per_token"
        }
    }

    func run() async throws {
        let bodies = Bodies(tokens: tokens, audioSeconds: audioSeconds)
        let port = LoopbackPort.free()
        let router = Router()
        router.post("/v1/chat/completions") { _, _ in Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(contentsOf: bodies.openai)) }
        router.post("/v1/messages") { _, _ in Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(contentsOf: bodies.anthropic)) }
        router.post("/v1/audio/speech") { _, _ in Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(contentsOf: bodies.pcm)) }
        var quiet = Logger(label: "bench")
        quiet.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: quiet)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(port)"
        let config = OpenAIConfiguration(provider: "bench", baseURL: base + "/v1", apiKey: "k")
        let openai = OpenAILLM(configuration: config, model: "m")
        let claude = AnthropicLLM(model: "m", apiKey: "k", baseURL: base)
        let tts = try OpenAITTS(configuration: config, model: "m", voice: "alloy")
        // Wait for the server.
        for _ in 0..<100 where (try? await raw(base + "/v1/messages")) == nil { try await Task.sleep(for: .milliseconds(50)) }

        let request = LLMRequest(messages: [.user("bench")])
        func llm(_ model: any LanguageModel) async throws -> Int {
            var n = 0
            for try await e in try await model.stream(request) { if case .text = e { n += 1 } }
            return n
        }
        let report = Report(
            openaiLLM: try await measure(units: tokens, unit: "token", raw: { try await raw(base + "/v1/chat/completions") }, client: { try await llm(openai) }),
            anthropicLLM: try await measure(units: tokens, unit: "token", raw: { try await raw(base + "/v1/messages") }, client: { try await llm(claude) }),
            openaiTTS: try await measure(units: bodies.pcm.count, unit: "chunk", raw: { try await raw(base + "/v1/audio/speech") }, client: {
                var frames = 0
                for try await _ in try await tts.synthesize("bench") { frames += 1 }
                return frames
            }),
            parseOnlyOpenAIUsPerToken: try parseOnly(bodies.openai, tokens: tokens) { chunks in
                var p = ChatCompletionStreamParser(provider: "bench")
                return try chunks.reduce(0) { n, c in n + (try p.feed(c.readableBytesView)).filter { if case .text = $0 { true } else { false } }.count }
            },
            parseOnlyAnthropicUsPerToken: try parseOnly(bodies.anthropic, tokens: tokens) { chunks in
                var p = MessagesStreamParser()
                return try chunks.reduce(0) { n, c in n + (try p.feed(c.readableBytesView)).filter { if case .text = $0 { true } else { false } }.count }
            })
        if json { return printJSON(report) }
        for (name, f) in [("OpenAI SSE", report.openaiLLM), ("Anthropic SSE", report.anthropicLLM), ("OpenAI PCM", report.openaiTTS)] {
            print(String(format: "%-14@ %6d %@s: raw %8.2f ms, client %8.2f ms, overhead %6.2f µs per %@ (ratio %.2f)",
                         name, f.units, f.unit, f.rawMs, f.clientMs, f.overheadUsPerUnit, f.unit, f.ratio))
        }
        print(String(format: "parse only: OpenAI %.2f µs per token, Anthropic %.2f µs per token",
                     report.parseOnlyOpenAIUsPerToken, report.parseOnlyAnthropicUsPerToken))
    }

    /// Reads a body raw: the HTTP client's own cost, the baseline.
    func raw(_ url: String) async throws -> Int {
        var r = HTTPClientRequest(url: url)
        r.method = .POST
        r.body = .bytes(ByteBuffer(string: "{}"))
        let response = try await ProviderHTTPClient.shared.execute(r, timeout: .seconds(30))
        var bytes = 0
        for try await chunk in response.body { bytes += chunk.readableBytes }
        return bytes
    }

    /// Alternates raw and client runs (a noisy machine disturbs both alike) and takes medians.
    func measure(units: Int, unit: String, raw: () async throws -> Int, client: () async throws -> Int) async throws -> Figure {
        var rawMs: [Double] = [], clientMs: [Double] = []
        _ = try await raw()
        _ = try await client()
        for _ in 0..<runs {
            var t = ContinuousClock.now
            _ = try await raw()
            rawMs.append((ContinuousClock.now - t).seconds * 1000)
            t = ContinuousClock.now
            let produced = try await client()
            clientMs.append((ContinuousClock.now - t).seconds * 1000)
            guard produced > 0 else { throw SiphonError(.internal, "the client produced nothing") }
        }
        let r = median(rawMs), c = median(clientMs)
        return Figure(units: units, unit: unit, rawMs: r, clientMs: c, overheadUsPerUnit: max(0, c - r) * 1000 / Double(units), ratio: c / r)
    }

    func parseOnly(_ chunks: [ByteBuffer], tokens: Int, _ parse: ([ByteBuffer]) throws -> Int) throws -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let t = ContinuousClock.now
            let n = try parse(chunks)
            guard n == tokens else { throw SiphonError(.internal, "parsed \(n) tokens, expected \(tokens)") }
            best = min(best, (ContinuousClock.now - t).seconds * 1000)
        }
        return best * 1000 / Double(tokens)
    }

    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
}

/// The streams the bench server sends, built once.
struct Bodies: Sendable {
    let openai: [ByteBuffer]
    let anthropic: [ByteBuffer]
    let pcm: [ByteBuffer]

    init(tokens: Int, audioSeconds: Int) {
        func batched(_ events: [String]) -> [ByteBuffer] {
            stride(from: 0, to: events.count, by: 8).map { ByteBuffer(string: events[$0..<min(events.count, $0 + 8)].joined()) }
        }
        let words = ["Sure", ",", " I", " can", " book", " that", " for", " Tuesday", "."]
        var o = [#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"# + "\n\n"]
        for i in 0..<tokens {
            o.append(#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\#(words[i % words.count])"},"finish_reason":null}],"usage":null}"# + "\n\n")
        }
        o.append(#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\ndata: [DONE]\n\n")
        openai = batched(o)
        var a = ["event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
                 "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"]
        for i in 0..<tokens {
            a.append("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\(words[i % words.count])\"}}\n\n")
        }
        a += ["event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
              "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":\(tokens)}}\n\n",
              "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"]
        anthropic = batched(a)
        let bytes = audioSeconds * 24_000 * 2
        let tone = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        pcm = stride(from: 0, to: bytes, by: 4096).map { ByteBuffer(bytes: tone.prefix(min(4096, bytes - $0))) }
    }
}
