import Foundation

/// Answering-machine detection on an outbound call (`amd:` in agent_config.yaml, `amd` on a job,
/// `siphon call --amd`): what to do once it is known who answered. Durations in seconds.
public struct AMDSettings: Sendable, Equatable {
    public enum MachineAction: String, Sendable, CaseIterable { case hangup, leaveMessage = "leave_message" }
    public enum ScreenerAction: String, Sendable, CaseIterable { case announce, hangup }
    public enum IVRAction: String, Sendable, CaseIterable { case navigate, hangup }

    /// False turns detection off (a job's way to opt out of its agent's `amd:`).
    public var enabled = true
    public var onMachine = MachineAction.hangup
    /// Spoken after the beep (or after the greeting and its silence when no beep comes), then the
    /// agent hangs up. Required with `on_machine: leave_message`.
    public var message: String?
    public var onScreener = ScreenerAction.hangup
    /// Said to a call screener (who is calling and why); required with `on_screener: announce`.
    public var announcement: String?
    /// `navigate`: the menu's prompts become the caller's turns and the model may press keys
    /// (`send_dtmf`); `hangup`.
    public var onIVR = IVRAction.hangup
    /// The longest the agent stays silent waiting for the decision (then: a person).
    public var timeout = 5.0
    /// No speech this long after the answer: an open line.
    public var initialSilence = 3.0
    /// Speech this long without a pause: a recorded greeting.
    public var greeting = 1.8
    /// A pause this long after a short greeting: a person waiting.
    public var afterGreetingSilence = 0.7
    /// After a "machine" decision, the longest to wait for the beep or the greeting's end before
    /// the message is spoken anyway.
    public var beepTimeout = 20.0

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, onMachine = "on_machine", message, onScreener = "on_screener", announcement, onIVR = "on_ivr", timeout
        case initialSilence = "initial_silence", greeting, afterGreetingSilence = "after_greeting_silence", beepTimeout = "beep_timeout"
    }

    /// What is wrong, one message per problem, each naming its key.
    public func validate() -> [String] {
        var p: [String] = []
        if onMachine == .leaveMessage, (message ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            p.append("message is required with on_machine: leave_message")
        }
        if onScreener == .announce, (announcement ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            p.append("announcement is required with on_screener: announce")
        }
        for (key, text) in [("message", message), ("announcement", announcement)] where (text?.count ?? 0) > 1000 {
            p.append("\(key) must be at most 1000 characters")
        }
        if !(1...30).contains(timeout) { p.append("timeout must be 1 to 30 seconds") }
        if !(0.5...30).contains(initialSilence) { p.append("initial_silence must be 0.5 to 30 seconds") }
        if !(0.3...10).contains(greeting) { p.append("greeting must be 0.3 to 10 seconds") }
        if !(0.2...5).contains(afterGreetingSilence) { p.append("after_greeting_silence must be 0.2 to 5 seconds") }
        if !(1...120).contains(beepTimeout) { p.append("beep_timeout must be 1 to 120 seconds") }
        return p
    }

    /// Canonical JSON (sorted keys), as a job carries it.
    public func json() -> JSONWriter {
        var w = JSONWriter()
        w.field("after_greeting_silence", afterGreetingSilence)
        if let announcement { w.field("announcement", announcement) }
        w.field("beep_timeout", beepTimeout)
        w.field("enabled", enabled)
        w.field("greeting", greeting)
        w.field("initial_silence", initialSilence)
        if let message { w.field("message", message) }
        w.field("on_ivr", onIVR.rawValue)
        w.field("on_machine", onMachine.rawValue)
        w.field("on_screener", onScreener.rawValue)
        w.field("timeout", timeout)
        return w
    }
}

extension AMDSettings: Decodable {
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "amd")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func action<A: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ fallback: A) throws -> A where A.RawValue == String {
            guard let raw = try c.decodeIfPresent(String.self, forKey: key) else { return fallback }
            guard let a = A(rawValue: raw) else {
                throw SiphonError.invalid("amd.\(key.rawValue): '\(raw.prefix(32))' is not one of \(A.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return a
        }
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        onMachine = try action(.onMachine, onMachine)
        message = try c.decodeIfPresent(String.self, forKey: .message)
        onScreener = try action(.onScreener, onScreener)
        announcement = try c.decodeIfPresent(String.self, forKey: .announcement)
        onIVR = try action(.onIVR, onIVR)
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? timeout
        initialSilence = try c.decodeIfPresent(Double.self, forKey: .initialSilence) ?? initialSilence
        greeting = try c.decodeIfPresent(Double.self, forKey: .greeting) ?? greeting
        afterGreetingSilence = try c.decodeIfPresent(Double.self, forKey: .afterGreetingSilence) ?? afterGreetingSilence
        beepTimeout = try c.decodeIfPresent(Double.self, forKey: .beepTimeout) ?? beepTimeout
        if let problem = validate().first { throw SiphonError.invalid("amd: \(problem)") }
    }
}
