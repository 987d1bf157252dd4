/// The one error type Siphon's library modules throw for bad input and refused operations.
///
/// A struct with a `Code` rather than an enum, so new cases don't break users' `switch`es
/// (the shape swift-service-lifecycle and postgres-nio use). The message never contains secrets.
public struct SiphonError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Input failed validation (a job, a request, a phone number, a config key).
        public static let invalidInput = Code("invalid_input")
        /// A referenced thing does not exist (call, agent, trunk).
        public static let notFound = Code("not_found")
        /// The operation conflicts with the current state (call already ended, duplicate id).
        public static let conflict = Code("conflict")
        /// Authentication failed or was missing.
        public static let unauthorized = Code("unauthorized")
        /// Authenticated, but not allowed this (a web client's token for another agent or call).
        public static let forbidden = Code("forbidden")
        /// A dependency (Redis, a provider, a trunk) could not be reached.
        public static let unavailable = Code("unavailable")
        /// A write was refused because this process no longer owns the call (fencing).
        public static let fenced = Code("fenced")
        /// Configuration is missing or wrong.
        public static let configuration = Code("configuration")
        /// A peer answered outside its protocol.
        public static let protocolViolation = Code("protocol_violation")
        /// The input is larger than the limit for it.
        public static let tooLarge = Code("too_large")
        /// Something that should not happen; a bug.
        public static let `internal` = Code("internal")
    }

    public var code: Code
    public var message: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: SiphonError, rhs: SiphonError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public static func invalid(_ message: String, file: String = #fileID, line: Int = #line) -> SiphonError {
        SiphonError(.invalidInput, message, file: file, line: line)
    }
}
