/// A Session-Expires header (RFC 4028 4): the session interval in seconds and who refreshes.
public struct SessionExpires: Sendable, Equatable {
    /// RFC 4028 4: the smallest interval either side may ask for (Min-SE's default).
    public static let minimumSeconds = 90

    public var seconds: Int
    /// "uac" or "uas"; nil when the sender left the choice to the answerer.
    public var refresher: String?

    public init(seconds: Int, refresher: String? = nil) {
        self.seconds = seconds
        self.refresher = refresher
    }

    /// Parses `delta-seconds *(;param)`. Nil for anything else (a peer's malformed header turns
    /// session timers off for the call rather than failing it).
    public init?(parsing value: String) {
        let parts = value.split(separator: ";", omittingEmptySubsequences: false)
        guard let first = parts.first?.trimmingLWS(), !first.isEmpty, first.utf8.count <= 10, first.utf8.allSatisfy({ (48...57).contains($0) }),
              let n = Int(first), n > 0 else { return nil }
        seconds = n
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingLWS().lowercased() }
            if kv.count == 2, kv[0] == "refresher", kv[1] == "uac" || kv[1] == "uas" { refresher = kv[1] }
        }
    }

    public var headerValue: String { refresher.map { "\(seconds);refresher=\($0)" } ?? String(seconds) }
}
