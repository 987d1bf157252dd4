import Foundation
import NIOHTTP1
import SiphonAgent
import SiphonCore
import SiphonProviderKit

/// Claude over the Messages API with `stream: true`: text deltas as they come; tool_use blocks
/// reassembled from `input_json_delta` fragments and handed out at `content_block_stop`.
public struct AnthropicLLM: LanguageModel {
    public let model: String
    public let apiKey: String
    public let baseURL: String
    public var maxTokens: Int
    public var retry = RetryPolicy()
    let client: ProviderHTTPClient

    public static let version = "2023-06-01"

    public init(model: String, apiKey: String, baseURL: String = "https://api.anthropic.com", maxTokens: Int = 1024,
                options: ProviderOptions = ProviderOptions()) {
        (self.model, self.apiKey, self.baseURL, self.maxTokens, self.retry) = (model, apiKey, baseURL, maxTokens, options.retry)
        client = ProviderHTTPClient(provider: "anthropic", baseURL: baseURL, firstByteTimeout: options.firstByteTimeout, limiter: options.limiter,
                                    classify: Self.classify)
    }

    public var name: String { "anthropic:\(model)" }

    public func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
        let body = try requestBody(request)
        let client = self.client
        let headers = [("x-api-key", apiKey), ("anthropic-version", Self.version), ("content-type", "application/json"), ("accept", "text/event-stream")]
        return Retrier.stream(retry) { _ in
            let started = RequestClock()
            let response = try await client.send("/v1/messages", headers: headers, body: body)
            return ProviderStream.make("anthropic", .llm, started: started) { emit in
                var parser = MessagesStreamParser()
                for try await chunk in client.chunks(response) {
                    for e in try parser.feed(chunk.readableBytesView) {
                        emit(e)
                        LLMUsage.record(e, provider: "anthropic")
                    }
                    if parser.isDone { break }
                }
                guard parser.isDone else {
                    throw ProviderError(provider: "anthropic", kind: .malformed, message: "the stream ended before message_stop")
                }
            }
        }
    }

    func requestBody(_ request: LLMRequest) throws -> Data {
        var system: [String] = []
        var messages: [[String: Any]] = []
        func append(_ role: String, _ blocks: [[String: Any]]) {
            // Claude wants user and assistant turns to alternate: merge neighbours of one role.
            if var last = messages.last, last["role"] as? String == role, var content = last["content"] as? [[String: Any]] {
                content += blocks
                last["content"] = content
                messages[messages.count - 1] = last
            } else {
                messages.append(["role": role, "content": blocks])
            }
        }
        for m in request.messages {
            switch m.role {
            case .system: system.append(m.content)
            case .user: append("user", [["type": "text", "text": m.content]])
            case .assistant:
                var blocks: [[String: Any]] = m.content.isEmpty ? [] : [["type": "text", "text": m.content]]
                for call in m.toolCalls {
                    let input = (try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8))) as? [String: Any] ?? [:]
                    blocks.append(["type": "tool_use", "id": call.id, "name": call.name, "input": input])
                }
                if !blocks.isEmpty { append("assistant", blocks) }
            case .tool: append("user", [["type": "tool_result", "tool_use_id": m.toolCallID ?? "", "content": m.content]])
            }
        }
        var body: [String: Any] = ["model": model, "max_tokens": request.maxTokens ?? maxTokens, "stream": true, "messages": messages]
        if !system.isEmpty { body["system"] = system.joined(separator: "\n\n") }
        if let t = request.temperature { body["temperature"] = min(1, max(0, t)) }
        if !request.tools.isEmpty {
            body["tools"] = try request.tools.map { tool -> [String: Any] in
                guard let schema = try? JSONSerialization.jsonObject(with: Data(tool.parameters.utf8)) as? [String: Any] else {
                    throw SiphonError.invalid("tool \(tool.name): parameters must be a JSON object schema")
                }
                return ["name": tool.name, "description": tool.description, "input_schema": schema]
            }
        }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// `{"type":"error","error":{"type","message"}}`; 529 and `overloaded_error` are the provider's
    /// side, `billing_error` and a spend limit do not pass by waiting.
    static func classify(_ status: Int, _ body: Data, _ headers: HTTPHeaders) -> ProviderError {
        struct Wire: Decodable { struct E: Decodable { var type: String?; var message: String? }; var error: E? }
        let wire = try? JSONDecoder().decode(Wire.self, from: body)
        var kind = ProviderError.kind(forStatus: status)
        let type = wire?.error?.type
        if status == 529 || type == "overloaded_error" { kind = .server }
        if type == "billing_error" || String(decoding: body, as: UTF8.self).contains("enforced_spend_limit_reached") { kind = .quotaExceeded }
        if headers.value("x-should-retry") == "false", kind == .rateLimited || kind == .server { kind = .quotaExceeded }
        return ProviderError(provider: "anthropic", kind: kind, status: status, code: type,
                             message: wire?.error?.message ?? String(decoding: body.prefix(200), as: UTF8.self),
                             requestID: headers.value("request-id"), retryAfter: RetryPolicy.retryAfter { headers.value($0) })
    }
}

/// A Messages event stream, bytes in, events out; `isDone` after `message_stop`.
public struct MessagesStreamParser: Sendable {
    private var decoder = SSEDecoder()
    private var assembler = MessageStreamAssembler()
    public var isDone: Bool { assembler.stopped }

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [LLMEvent] {
        var out: [LLMEvent] = []
        for event in try decoder.feed(bytes) where !assembler.stopped { out += try assembler.consume(event) }
        return out
    }
}

/// The Messages stream's events in order: message_start, content blocks (start, deltas, stop),
/// message_delta (usage so far), message_stop; `ping` anywhere; `error` after a 200.
struct MessageStreamAssembler: Sendable {
    private(set) var stopped = false
    private var inputTokens = 0
    private var blocks: [Int: (id: String, name: String, json: String)] = [:]

    mutating func consume(_ event: SSEEvent) throws -> [LLMEvent] {
        let name = event.event ?? ""
        if name == "ping" || event.data.isEmpty { return [] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any] else {
            throw ProviderError(provider: "anthropic", kind: .malformed, message: "event \(name) is not a JSON object")
        }
        switch name.isEmpty ? (object["type"] as? String ?? "") : name {
        case "message_start":
            let usage = (object["message"] as? [String: Any])?["usage"] as? [String: Any]
            inputTokens = usage?["input_tokens"] as? Int ?? 0
        case "content_block_start":
            let index = object["index"] as? Int ?? 0
            if let block = object["content_block"] as? [String: Any], block["type"] as? String == "tool_use" {
                blocks[index] = (block["id"] as? String ?? "", block["name"] as? String ?? "", "")
            }
        case "content_block_delta":
            let index = object["index"] as? Int ?? 0
            let delta = object["delta"] as? [String: Any] ?? [:]
            switch delta["type"] as? String {
            case "text_delta":
                if let text = delta["text"] as? String, !text.isEmpty { return [.text(text)] }
            case "input_json_delta":
                guard blocks[index] != nil else {
                    throw ProviderError(provider: "anthropic", kind: .malformed, message: "input_json_delta for block \(index), which is not a tool_use")
                }
                blocks[index]!.json += delta["partial_json"] as? String ?? ""
            default: break  // thinking, signatures, citations: not spoken
            }
        case "content_block_stop":
            let index = object["index"] as? Int ?? 0
            if let b = blocks.removeValue(forKey: index) {
                let json = b.json.isEmpty ? "{}" : b.json
                guard (try? JSONSerialization.jsonObject(with: Data(json.utf8))) is [String: Any] else {
                    throw ProviderError(provider: "anthropic", kind: .malformed, message: "tool \(b.name): input is not a JSON object")
                }
                return [.toolCall(ToolCall(id: b.id, name: b.name, arguments: json))]
            }
        case "message_delta":
            if let usage = object["usage"] as? [String: Any], let out = usage["output_tokens"] as? Int {
                return [.usage(promptTokens: usage["input_tokens"] as? Int ?? inputTokens, completionTokens: out)]
            }
        case "message_stop":
            stopped = true
        case "error":
            let e = object["error"] as? [String: Any] ?? [:]
            let type = e["type"] as? String
            throw ProviderError(provider: "anthropic", kind: type == "overloaded_error" || type == "api_error" ? .server : .badRequest,
                                code: type, message: e["message"] as? String ?? "error in stream")
        default: break
        }
        return []
    }
}

extension AnthropicLLM {
    /// The smallest authenticated request (`GET /v1/models`).
    public func check() async throws -> Duration {
        try await client.probe("/v1/models", headers: [("x-api-key", apiKey), ("anthropic-version", Self.version)])
    }
}
