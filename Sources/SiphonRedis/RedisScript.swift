import Crypto

/// A Lua script run by SHA1 (`EVALSHA`). The SHA is computed locally, so the script text crosses the
/// network only when the server does not know it yet (`NOSCRIPT`, e.g. after a restart or `SCRIPT FLUSH`).
public struct RedisScript: Sendable {
    public let name: String
    public let source: String
    public let sha: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
