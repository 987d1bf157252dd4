import Foundation
import SiphonAgent
import SiphonCore

/// A deterministic dialogue policy standing in for an LLM, configured in agent_config.yaml:
/// intents matched on the caller's last words, slots filled from everything the caller said (so a
/// conversation resumed on another worker remembers them), replies with `{slot}` placeholders,
/// and tool calls. Clearly not a language model — the offline engine that needs no API key.
public struct ScriptedLLM: LanguageModel {
    public struct Intent: Sendable, Equatable {
        public var name: String
        public var when: [String] = []
        public var whenSlot: String?
        public var requires: [String] = []
        public var reply: String
        public var tool: String?
        /// The tool call's arguments as JSON (`arguments:` in YAML, e.g. `{digits: "1"}` for send_dtmf).
        public var arguments = "{}"
    }

    public let name = "scripted"
    public var slots: [String: [String]]
    public var intents: [Intent]
    public var fallback: String

    public init(slots: [String: [String]] = [:], intents: [Intent], fallback: String = "Sorry, could you say that again?") {
        self.slots = slots
        self.intents = intents
        self.fallback = fallback
    }

    public func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
        let (reply, tool, arguments) = respond(to: request.messages)
        return AsyncThrowingStream { c in
            // Word by word, like a streaming model, so sentence-level TTS streaming is exercised.
            for word in reply.split(separator: " ", omittingEmptySubsequences: false) { c.yield(.text(String(word) + " ")) }
            if let tool { c.yield(.toolCall(ToolCall(id: "call-\(request.messages.count)", name: tool, arguments: arguments))) }
            c.finish()
        }
    }

    /// The reply for the conversation so far (the last user message picks the intent).
    public func respond(to messages: [ChatMessage]) -> (String, String?, String) {
        let userTexts = messages.filter { $0.role == .user }.map { Self.words($0.content) }
        guard let last = userTexts.last else { return (fallback, nil, "{}") }
        var filled: [String: String] = [:]
        for text in userTexts {
            for (slot, values) in slots {
                if let v = values.first(where: { Self.contains(text, Self.words($0)) }) { filled[slot] = v }
            }
        }
        for intent in intents {
            let phraseMatch = intent.when.contains { Self.contains(last, Self.words($0)) }
            let slotMatch = intent.whenSlot.map { slot in (slots[slot] ?? []).contains { Self.contains(last, Self.words($0)) } } ?? false
            guard phraseMatch || slotMatch, intent.requires.allSatisfy({ filled[$0] != nil }) else { continue }
            var reply = intent.reply
            for (k, v) in filled {
                // The value as spelt in the configuration; capitalised where it starts a sentence.
                reply = reply.replacingOccurrences(of: "{\(k)}", with: v)
                if reply.hasPrefix(v) { reply = v.prefix(1).uppercased() + reply.dropFirst() }
            }
            return (reply, intent.tool, intent.arguments)
        }
        return (fallback, nil, "{}")
    }

    static func words(_ s: String) -> [String] {
        let cleaned = String(s.lowercased().map { (c: Character) -> Character in c.isLetter || c.isNumber || c == "'" ? c : " " })
        return cleaned.split(separator: " ").map(String.init)
    }

    static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<i + needle.count]) == needle { return true }
        return false
    }
}
