import SiphonAudio
import SiphonCore

/// The phone line as the conversation sees it: a paced outbound queue and call controls.
public protocol CallAudio: AnyObject, Sendable {
    /// Queues a frame (pipeline rate) to be sent on the next free 20 ms slot.
    func enqueue(_ frame: AudioFrame)
    /// Drops everything queued (barge-in); returns how many frames were dropped.
    func flush() -> Int
    var queuedFrames: Int { get }
    /// Agent frames sent on the wire so far (silence excluded): tells what the caller has heard.
    var sentFrames: Int { get }
    func sendDigits(_ digits: String) async
    /// Transfers the call; returns the final status (2xx: transferred, the line is then gone).
    func transfer(to target: String) async throws -> Int
    func hangup(reason: String) async
    /// True when the frames can stop with the call still on (a browser's connection dropping, to
    /// be offered again): the conversation then stores the caller's last words but not an answer
    /// the drop cut short, and picks up from the stored turns when it reconnects.
    var framesMayResume: Bool { get }
}

extension CallAudio {
    public var framesMayResume: Bool { false }
}

/// Where the conversation keeps its turns and context (the cluster's fenced session store).
public protocol ConversationStore: Sendable {
    @discardableResult func append(_ turn: Turn) async throws -> Bool
    func setContext(_ fields: [String: String]) async throws
    func history() async throws -> [Turn]
    /// The call's session context (what `setContext` kept, a resumed call's included).
    func context() async throws -> [String: String]
    /// A moment in the call's timeline (answering-machine detection's decision, …).
    func event(_ type: String, detail: String, fields: [String: String]) async throws
    /// True once the conversation's stop ends the call (a cancel through the API) rather than
    /// hands it on (a takeover): what was said last is then stored all the same.
    var stopEndsTheCall: Bool { get }
}

extension ConversationStore {
    public func event(_ type: String, detail: String, fields: [String: String]) async throws {}
    public var stopEndsTheCall: Bool { false }
}
