/// How far answering-machine detection and its action have got on a call, kept in the call's
/// context (`amd.stage`) so that a call resumed — on another worker, or on this one once Redis
/// answers again — carries on from there: it neither greets a voicemail nor leaves its message
/// twice or never. What the detector had heard is not kept: a resumed call listens afresh.
enum AnswerStage: String, Sendable {
    case detecting
    /// A machine: the message waits for the end of its greeting.
    case awaitingGreetingEnd = "awaiting_greeting_end"
    /// The voicemail message is being said.
    case message
    /// Said whole; the agent hangs up unless the callee talks back.
    case messageLeft = "message_left"
    case awaitingScreenerPause = "awaiting_screener_pause"
    /// The announcement to a screener is being said.
    case announcing
    case awaitingPerson = "awaiting_person"
    /// A person, a menu to navigate, or a callee who talked back: an ordinary call from here.
    case conversation

    static let contextKey = "amd.stage"

    init?(context: [String: String]) {
        guard let raw = context[Self.contextKey] else { return nil }
        self.init(rawValue: raw)
    }
}
