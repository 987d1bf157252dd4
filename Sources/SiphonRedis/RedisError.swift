/// Errors from the Redis client. `server` carries Redis' own error line (e.g. `WRONGTYPE …`,
/// or a Lua script's `FENCED …`); the others are about reaching the server.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// Could not connect within the retry window.
        public static let unavailable = Code(name: "unavailable")
        /// The connection broke while a command was in flight: it may or may not have run.
        public static let connectionLost = Code(name: "connection_lost")
        /// Redis answered with an error reply.
        public static let server = Code(name: "server")
        /// The reply was not of the shape the caller expected.
        public static let unexpectedReply = Code(name: "unexpected_reply")
        /// AUTH or SELECT was refused.
        public static let authentication = Code(name: "authentication")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "redis \(code): \(message)" }

    /// True for errors that say nothing about the command (retrying is safe if the command is idempotent).
    public var isConnectivity: Bool { code == .unavailable || code == .connectionLost }
}
