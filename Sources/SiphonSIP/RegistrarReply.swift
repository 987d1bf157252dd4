/// What a registrar's answer to REGISTER says (RFC 3261 10.3): the expiry it granted our binding,
/// or the Min-Expires of a 423. Its numbers are a peer's: bounded before any arithmetic on them.
enum RegistrarReply {
    /// The longest expiry taken from a registrar (a day): a peer's number is bounded before any
    /// arithmetic on it, and a binding is refreshed at least daily.
    static let longestExpiry = 86_400

    /// The expiry a registrar's 2xx granted: our Contact's `expires` among the bindings it lists
    /// (other workers' may be there too), else its Expires header, else what was asked; 0 to a day.
    static func granted(_ response: SIPMessage, ours: SIPURI, asked: Int) -> Int {
        let contacts = (try? response.contacts()) ?? []
        let mine = contacts.first { c in
            c.uri.host.lowercased() == ours.host.lowercased() && c.uri.port == ours.port && c.uri.user == ours.user
        }
        let seconds: Int
        if let value = mine?.parameters["expires"], let s = Int(value.trimmingLWS()) {
            seconds = s
        } else if mine == nil, asked == 0 {
            seconds = 0  // removed: our binding is no longer listed
        } else {
            seconds = response.header("Expires").flatMap { Int($0.trimmingLWS()) } ?? asked
        }
        return min(max(seconds, 0), longestExpiry)
    }

    /// A 423's Min-Expires (RFC 3261 10.3), when it is a usable number of seconds.
    static func minimumExpires(_ response: SIPMessage) -> Int? {
        guard let value = response.header("Min-Expires").flatMap({ Int($0.trimmingLWS()) }), (1...longestExpiry).contains(value) else { return nil }
        return value
    }
}
