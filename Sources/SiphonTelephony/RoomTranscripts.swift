import SiphonCore
import SiphonAgent
import SiphonCluster

/// The conversation's store, publishing each user and agent turn to the room as it is stored.
struct RoomTranscripts: ConversationStore {
    let store: ClusterConversationStore
    let session: RoomSession

    func append(_ turn: Turn) async throws -> Bool {
        let stored = try await store.append(turn)
        if stored, turn.role == .user || turn.role == .agent, !turn.text.isEmpty {
            let speaker = turn.role == .user ? session.ticket.callerIdentity : session.identity
            session.publishTranscript(turn.text, speaker: speaker, segment: "SG_\(turn.seq)", generated: turn.role == .agent)
        }
        return stored
    }

    func setContext(_ fields: [String: String]) async throws { try await store.setContext(fields) }
    func history() async throws -> [Turn] { try await store.history() }
    func context() async throws -> [String: String] { try await store.context() }
    func event(_ type: String, detail: String, fields: [String: String]) async throws {
        try await store.event(type, detail: detail, fields: fields)
    }
    var stopEndsTheCall: Bool { store.stopEndsTheCall }
}
