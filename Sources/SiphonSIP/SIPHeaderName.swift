/// Header names: compact forms expanded, matching case-insensitive, output in canonical case.
public enum SIPHeaderName {
    static let compact: [Character: String] = [
        "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
        "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event", "r": "Refer-To",
        "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires", "y": "Identity", "a": "Accept-Contact",
        "j": "Reject-Contact", "d": "Request-Disposition",
    ]

    static let canonical: [String: String] = {
        let names = ["Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events", "Authentication-Info",
                     "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
                     "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires",
                     "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization",
                     "P-Asserted-Identity", "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
                     "Reason", "Record-Route", "Refer-To", "Referred-By", "Reply-To", "Require", "Retry-After", "Route", "RSeq",
                     "Server", "Session-Expires", "Subject", "Subscription-State", "Supported", "Timestamp", "To",
                     "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate"]
        return Dictionary(uniqueKeysWithValues: names.map { ($0.lowercased(), $0) })
    }()

    /// Canonical spelling of a header name as it appeared on the wire (compact forms expanded).
    public static func normalize(_ raw: String) -> String {
        if raw.count == 1, let c = raw.lowercased().first, let full = compact[c] { return full }
        return canonical[raw.lowercased()] ?? raw
    }

    /// Header fields that may appear once only (RFC 3261 20; multi01).
    static let singleValued: Set<String> = ["Call-ID", "CSeq", "To", "From", "Max-Forwards", "Content-Length", "Content-Type", "Expires", "Min-Expires", "Session-Expires", "RSeq"]
}

enum SIPChar {
    /// RFC 3261 token characters.
    static func isToken(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"), UInt8(ascii: "_"),
             UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"): true
        default: false
        }
    }

    static func isToken(_ s: Substring) -> Bool { !s.isEmpty && s.utf8.allSatisfy(isToken) }
    static func isToken(_ s: String) -> Bool { !s.isEmpty && s.utf8.allSatisfy(isToken) }

    static func isWS(_ c: Character) -> Bool { c == " " || c == "\t" }
}

extension StringProtocol {
    /// Trims spaces and tabs (SIP linear white space after unfolding).
    func trimmingLWS() -> String {
        var s = Substring(self)
        while let f = s.first, SIPChar.isWS(f) || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, SIPChar.isWS(l) || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}

/// Splits a header value on commas that are outside quoted strings and angle brackets.
func splitHeaderValues(_ value: String) -> [String] {
    var out: [String] = []
    var current = ""
    var inQuotes = false, inAngle = false, escaped = false
    for c in value {
        if escaped { current.append(c); escaped = false; continue }
        if inQuotes && c == "\\" { current.append(c); escaped = true; continue }
        if c == "\"" { inQuotes.toggle() } else if !inQuotes && c == "<" { inAngle = true } else if !inQuotes && c == ">" { inAngle = false }
        if c == ",", !inQuotes, !inAngle {
            out.append(current.trimmingLWS())
            current = ""
        } else {
            current.append(c)
        }
    }
    out.append(current.trimmingLWS())
    return out
}
