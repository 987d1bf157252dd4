/// A message Siphon cannot accept, with the status a server answers it with (400, 505, …).
/// Responses that fail to parse are dropped instead (never answer a response).
public struct SIPMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(_ status: Int = 400, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(reason)" }
}
