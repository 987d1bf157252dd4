import Foundation
import SiphonCore

/// Assigns turn sequence numbers in order and writes turns to the store.
actor TurnWriter {
    let store: any ConversationStore
    private(set) var nextSeq: Int
    private(set) var turns: [Turn]

    init(store: any ConversationStore, history: [Turn]) {
        self.store = store
        turns = history
        nextSeq = (history.last?.seq ?? 0) + 1
    }

    @discardableResult
    func append(_ role: Turn.Role, _ text: String, interrupted: Bool = false, extra: [String: String] = [:]) async throws -> Turn {
        let turn = Turn(seq: nextSeq, role: role, text: text, interrupted: interrupted, extra: extra)
        try await store.append(turn)
        nextSeq += 1
        turns.append(turn)
        return turn
    }

    /// The model's view of the conversation: system prompt plus the last `window` turns.
    func messages(instructions: String, window: Int) -> [ChatMessage] {
        var out = [ChatMessage.system(instructions)]
        for t in turns.suffix(window) {
            switch t.role {
            case .user: out.append(.user(t.text))
            case .agent:
                let calls = t.extra["tool_calls"].flatMap { try? JSONDecoder().decode([ToolCall].self, from: Data($0.utf8)) } ?? []
                out.append(ChatMessage(role: .assistant, content: t.text, toolCalls: calls))
            case .tool: out.append(ChatMessage(role: .tool, content: t.text, toolCallID: t.extra["tool_call_id"]))
            case .system: out.append(.system(t.text))
            }
        }
        // A window that starts at a tool result has lost its call: drop the orphan.
        while out.count > 1, out[1].role == .tool { out.remove(at: 1) }
        return out
    }
}
