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

    /// The same from the wire bytes (token characters, so ASCII); names up to 15 bytes are small
    /// strings, so the lookup key costs no allocation.
    static func normalize(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        let lower = String(unsafeUninitializedCapacity: raw.count) { out in
            for (k, c) in raw.enumerated() { out[k] = (65...90).contains(c) ? c | 0x20 : c }
            return raw.count
        }
        if raw.count == 1, let c = lower.first, let full = compact[c] { return full }
        return canonical[lower] ?? String(decoding: raw, as: UTF8.self)
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
    /// Trims spaces, tabs, CR and LF (SIP linear white space after unfolding), on UTF-8 bytes.
    func trimmingLWS() -> String {
        let u = Substring(self).utf8
        var lo = u.startIndex, hi = u.endIndex
        func isLWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        while lo < hi, isLWS(u[lo]) { lo = u.index(after: lo) }
        while hi > lo, isLWS(u[u.index(before: hi)]) { hi = u.index(before: hi) }
        return String(Substring(u[lo..<hi]))
    }
}

/// Splits a header value on commas that are outside quoted strings and angle brackets.
func splitHeaderValues(_ value: String) -> [String] {
    var out: [String] = []
    let u = value.utf8
    var start = u.startIndex
    var inQuotes = false, inAngle = false, escaped = false
    var i = u.startIndex
    while i < u.endIndex {
        let c = u[i]
        if escaped {
            escaped = false
        } else if inQuotes && c == 0x5C {
            escaped = true
        } else if c == 0x22 {
            inQuotes.toggle()
        } else if !inQuotes && c == 0x3C {
            inAngle = true
        } else if !inQuotes && c == 0x3E {
            inAngle = false
        } else if c == 0x2C, !inQuotes, !inAngle {
            out.append(Substring(u[start..<i]).trimmingLWS())
            start = u.index(after: i)
        }
        i = u.index(after: i)
    }
    out.append(Substring(u[start..<u.endIndex]).trimmingLWS())
    return out
}
