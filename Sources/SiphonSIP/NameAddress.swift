/// `"Display" <sip:uri>;tag=…` — the value of To, From, Contact, Route, Refer-To, ….
public struct NameAddress: Sendable, Equatable, CustomStringConvertible {
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters (tag, expires, …), not URI parameters.
    public var parameters = SIPParameters()
    /// Contact: `*`.
    public var isWildcard = false

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public var tag: String? {
        get { parameters["tag"] }
        set { parameters["tag"] = newValue }
    }

    public init(parsing raw: String) throws {
        let text = raw.trimmingLWS()
        guard !text.isEmpty else { throw SIPMessageError(400, "empty address") }
        if text == "*" {
            uri = SIPURI(host: "*")
            isWildcard = true
            return
        }
        var s = Substring(text)
        if s.first == "\"" {
            // quoted display name with quoted-pairs
            var name = ""
            var i = s.index(after: s.startIndex)
            var closed = false
            while i < s.endIndex {
                let c = s[i]
                if c == "\\" {
                    i = s.index(after: i)
                    guard i < s.endIndex else { break }
                    name.append(s[i])
                } else if c == "\"" {
                    closed = true
                    break
                } else {
                    name.append(c)
                }
                i = s.index(after: i)
            }
            guard closed else { throw SIPMessageError(400, "unterminated quoted display name") }
            displayName = name
            s = s[s.index(after: i)...]
            s = Substring(s.trimmingLWS())
            guard s.first == "<" else { throw SIPMessageError(400, "display name without <URI>") }
        }
        if let open = s.firstIndex(of: "<") {
            if displayName == nil {
                let name = s[..<open].trimmingLWS()
                if !name.isEmpty {
                    // unquoted display name: tokens separated by LWS (baddn)
                    for word in name.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !SIPChar.isToken(word) {
                        throw SIPMessageError(400, "unquoted display name contains '\(word.prefix(20))'")
                    }
                    displayName = name
                }
            }
            guard let close = s[open...].firstIndex(of: ">") else { throw SIPMessageError(400, "unclosed <") }
            let inner = s[s.index(after: open)..<close]
            guard inner.first != " ", inner.last != " " else { throw SIPMessageError(400, "spaces inside <addr-spec>") }
            uri = try SIPURI(parsing: inner)
            let after = s[s.index(after: close)...].trimmingLWS()
            guard after.isEmpty || after.hasPrefix(";") else { throw SIPMessageError(400, "unexpected text after <URI>") }
            parameters = try SIPParameters.parse(Substring(after))
        } else {
            // addr-spec: parameters after the URI belong to the header, and the URI may carry no
            // headers or parameters of its own (regbadct, cparam01).
            let parts = splitOutsideQuotes(s, separator: ";")
            let uriText = parts[0].trimmingLWS()
            guard !uriText.contains("?") else { throw SIPMessageError(400, "URI with headers must be in <>") }
            uri = try SIPURI(uriText)
            if parts.count > 1 { parameters = try SIPParameters.parse(s[s.index(after: parts[0].endIndex)...]) }
        }
    }

    public var description: String {
        if isWildcard { return "*" }
        var s = ""
        if let d = displayName, !d.isEmpty {
            let escaped = d.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            s += "\"\(escaped)\" "
        }
        return s + "<\(uri)>" + parameters.description
    }
}
