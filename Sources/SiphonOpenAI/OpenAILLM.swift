import Foundation
import SiphonAgent
import SiphonCore
import SiphonProviderKit

/// Chat Completions with `stream: true`: text deltas as they come, tool calls reassembled from
/// their fragments (by index; `arguments` concatenated), usage from the final chunk.
public struct OpenAILLM: LanguageModel {
    public let configuration: OpenAIConfiguration
    public let model: String
    /// Ask for the usage chunk (`stream_options.include_usage`); some compatible servers refuse it.
    public var includeUsage: Bool
    let client: ProviderHTTPClient

    public init(configuration: OpenAIConfiguration, model: String, includeUsage: Bool = true) {
        (self.configuration, self.model, self.includeUsage) = (configuration, model, includeUsage)
        client = configuration.client()
    }

    public var name: String { "\(configuration.provider):\(model)" }

    public func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
        let body = try requestBody(request)
        let client = self.client, headers = configuration.headers, provider = configuration.provider
        return Retrier.stream(configuration.retry) { _ in
            let started = RequestClock()
            let response = try await client.send("/chat/completions", headers: headers + [("Accept", "text/event-stream")], body: body)
            return ProviderStream.make(provider, .llm, started: started) { emit in
                var parser = ChatCompletionStreamParser(provider: provider)
                for try await chunk in client.chunks(response) {
                    for e in try parser.feed(chunk.readableBytesView) {
                        emit(e)
                        LLMUsage.record(e, provider: provider)
                    }
                    if parser.isDone { break }
                }
                for e in try parser.finish() { emit(e) }
            }
        }
    }

    func requestBody(_ request: LLMRequest) throws -> Data {
        var body: [String: Any] = ["model": model, "stream": true, "messages": try request.messages.map(Self.message)]
        if includeUsage { body["stream_options"] = ["include_usage": true] }
        if let t = request.temperature { body["temperature"] = t }
        if let m = request.maxTokens { body["max_completion_tokens"] = m }
        if !request.tools.isEmpty {
            body["tools"] = try request.tools.map { tool -> [String: Any] in
                ["type": "function", "function": ["name": tool.name, "description": tool.description, "parameters": try Self.object(tool.parameters, tool.name)]]
            }
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func message(_ m: ChatMessage) throws -> [String: Any] {
        switch m.role {
        case .system, .user: return ["role": m.role.rawValue, "content": m.content]
        case .assistant:
            var out: [String: Any] = ["role": "assistant", "content": m.content.isEmpty && !m.toolCalls.isEmpty ? NSNull() : m.content]
            if !m.toolCalls.isEmpty {
                out["tool_calls"] = m.toolCalls.map { ["id": $0.id, "type": "function", "function": ["name": $0.name, "arguments": $0.arguments]] }
            }
            return out
        case .tool: return ["role": "tool", "tool_call_id": m.toolCallID ?? "", "content": m.content]
        }
    }

    static func object(_ json: String, _ what: String) throws -> Any {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)), o is [String: Any] else {
            throw SiphonError.invalid("tool \(what): parameters must be a JSON object schema")
        }
        return o
    }
}

/// A Chat Completions event stream, bytes in, events out (SSE framing, `[DONE]`, chunks).
public struct ChatCompletionStreamParser: Sendable {
    private var decoder = SSEDecoder()
    private var assembler: ChatStreamAssembler
    public private(set) var isDone = false

    public init(provider: String) { assembler = ChatStreamAssembler(provider: provider) }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [LLMEvent] {
        var out: [LLMEvent] = []
        for event in try decoder.feed(bytes) where !isDone {
            if event.data.hasPrefix("[DONE]") {
                isDone = true
                assembler.done = true
            } else {
                out += try assembler.consume(event.data)
            }
        }
        return out
    }

    /// At the end of the body: the tool calls still held, or an error if the stream was cut short.
    public mutating func finish() throws -> [LLMEvent] { try assembler.finish() }
}

/// Turns `chat.completion.chunk` payloads into events. Tool calls are handed out whole, once the
/// model says it is done with them (`finish_reason`) or the stream ends.
struct ChatStreamAssembler: Sendable {
    let provider: String
    var done = false
    private var finished = false
    private var calls: [Int: (id: String, name: String, arguments: String)] = [:]

    init(provider: String) { self.provider = provider }

    mutating func consume(_ data: String) throws -> [LLMEvent] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else {
            throw ProviderError(provider: provider, kind: .malformed, message: "stream chunk is not a JSON object: \(data.prefix(80))")
        }
        if let e = OpenAIConfiguration.streamError(provider: provider, object) { throw e }
        var out: [LLMEvent] = []
        for choice in object["choices"] as? [[String: Any]] ?? [] where (choice["index"] as? Int ?? 0) == 0 {
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let text = delta["content"] as? String, !text.isEmpty { out.append(.text(text)) }
            for fragment in delta["tool_calls"] as? [[String: Any]] ?? [] {
                guard let index = fragment["index"] as? Int else {
                    throw ProviderError(provider: provider, kind: .malformed, message: "tool call fragment without index")
                }
                var call = calls[index] ?? ("", "", "")
                if let id = fragment["id"] as? String, !id.isEmpty { call.id = id }
                let function = fragment["function"] as? [String: Any] ?? [:]
                if let name = function["name"] as? String, !name.isEmpty { call.name = name }
                if let args = function["arguments"] as? String { call.arguments += args }
                calls[index] = call
            }
            if let reason = choice["finish_reason"] as? String {
                finished = true
                if reason == "tool_calls" || !calls.isEmpty { out += try drainCalls() }
            }
        }
        if let usage = object["usage"] as? [String: Any], let p = usage["prompt_tokens"] as? Int, let c = usage["completion_tokens"] as? Int {
            out.append(.usage(promptTokens: p, completionTokens: c))
        }
        return out
    }

    /// At end of stream. Without `[DONE]` and without a finish reason the stream was cut short.
    mutating func finish() throws -> [LLMEvent] {
        guard done || finished else {
            throw ProviderError(provider: provider, kind: .malformed, message: "the stream ended before the reply was complete")
        }
        return try drainCalls()
    }

    private mutating func drainCalls() throws -> [LLMEvent] {
        defer { calls.removeAll() }
        return try calls.keys.sorted().map { i in
            let c = calls[i]!
            guard !c.name.isEmpty else { throw ProviderError(provider: provider, kind: .malformed, message: "tool call \(i) has no name") }
            return .toolCall(ToolCall(id: c.id.isEmpty ? "call_\(i)" : c.id, name: c.name, arguments: c.arguments.isEmpty ? "{}" : c.arguments))
        }
    }
}
