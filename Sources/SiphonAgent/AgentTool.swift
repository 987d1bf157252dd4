import Foundation

/// A function the model may call during a call.
public struct AgentTool: Sendable {
    public var spec: ToolSpec
    /// Runs the tool with the model's arguments (JSON object text); returns the result the model sees.
    public var handler: @Sendable (String) async throws -> String

    public init(name: String, description: String, parameters: String = #"{"type":"object","properties":{}}"#,
                handler: @escaping @Sendable (String) async throws -> String) {
        spec = ToolSpec(name: name, description: description, parameters: parameters)
        self.handler = handler
    }
}

/// The tools every agent has: they act on the call itself.
public enum BuiltinTools {
    public static let endCall = ToolSpec(
        name: "end_call", description: "Hang up once the goodbye has been said.",
        parameters: #"{"type":"object","properties":{"reason":{"type":"string"}}}"#)
    public static let transferCall = ToolSpec(
        name: "transfer_call", description: "Transfer the caller to a phone number or SIP URI.",
        parameters: #"{"type":"object","properties":{"to":{"type":"string","description":"E.164 number or SIP URI"}},"required":["to"]}"#)
    public static let sendDTMF = ToolSpec(
        name: "send_dtmf", description: "Send touch-tone digits (0-9, *, #, A-D) on the line, e.g. to navigate a phone menu.",
        parameters: #"{"type":"object","properties":{"digits":{"type":"string"}},"required":["digits"]}"#)

    public static let all = [endCall, transferCall, sendDTMF]

    static func argument(_ name: String, in json: String) -> String? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        return obj[name] as? String
    }
}
