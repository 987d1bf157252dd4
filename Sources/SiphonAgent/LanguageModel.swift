import Foundation

/// A chat message in the OpenAI-compatible shape every LLM plugin maps from.
public struct ChatMessage: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case system, user, assistant, tool }

    public var role: Role
    public var content: String
    /// Tool calls the assistant asked for (assistant messages).
    public var toolCalls: [ToolCall]
    /// The call this message answers (tool messages).
    public var toolCallID: String?

    public init(role: Role, content: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil) {
        (self.role, self.content, self.toolCalls, self.toolCallID) = (role, content, toolCalls, toolCallID)
    }

    public static func system(_ s: String) -> ChatMessage { ChatMessage(role: .system, content: s) }
    public static func user(_ s: String) -> ChatMessage { ChatMessage(role: .user, content: s) }
    public static func assistant(_ s: String) -> ChatMessage { ChatMessage(role: .assistant, content: s) }
}

/// A function call requested by the model.
public struct ToolCall: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// Arguments as a JSON object text.
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        (self.id, self.name, self.arguments) = (id, name, arguments)
    }
}

/// A tool the model may call, described by a JSON Schema for its arguments.
public struct ToolSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    /// JSON Schema (object) as text.
    public var parameters: String

    public init(name: String, description: String, parameters: String = #"{"type":"object","properties":{}}"#) {
        (self.name, self.description, self.parameters) = (name, description, parameters)
    }
}

public struct LLMRequest: Sendable, Equatable {
    public var messages: [ChatMessage]
    public var tools: [ToolSpec]
    public var temperature: Double?
    public var maxTokens: Int?

    public init(messages: [ChatMessage], tools: [ToolSpec] = [], temperature: Double? = nil, maxTokens: Int? = nil) {
        (self.messages, self.tools, self.temperature, self.maxTokens) = (messages, tools, temperature, maxTokens)
    }
}

/// What a streaming LLM produces.
public enum LLMEvent: Sendable, Equatable {
    case text(String)
    case toolCall(ToolCall)
    case usage(promptTokens: Int, completionTokens: Int)
}

/// A chat model streaming tokens and tool calls. Cancelling the consuming task cancels the request.
public protocol LanguageModel: Sendable {
    var name: String { get }
    func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error>
}
