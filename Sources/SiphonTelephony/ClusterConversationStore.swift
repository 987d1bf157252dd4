import SiphonAgent
import SiphonCluster
import SiphonCore

/// The conversation's turns and context in the call's fenced Redis session.
struct ClusterConversationStore: ConversationStore {
    let call: CallContext

    func append(_ turn: Turn) async throws -> Bool { try await call.appendTurn(turn) }
    func setContext(_ fields: [String: String]) async throws { try await call.setContext(fields) }
    func history() async throws -> [Turn] { try await call.history() }
    func context() async throws -> [String: String] { try await call.sessionContext() }
    func event(_ type: String, detail: String, fields: [String: String]) async throws {
        try await call.record(event: type, detail: detail, fields: fields)
    }
    var stopEndsTheCall: Bool { call.stopReason == .canceled }
}
