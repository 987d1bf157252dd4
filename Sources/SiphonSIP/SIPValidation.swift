/// Checks that a parsed message is well-formed enough to process (RFC 3261 8.2, 16.3; RFC 4475).
public enum SIPValidation {
    public static let supportedMethods = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REFER", "NOTIFY", "INFO", "UPDATE"]
    static let knownMethods: Set<String> = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "REFER", "NOTIFY", "INFO",
                                            "UPDATE", "PRACK", "SUBSCRIBE", "MESSAGE", "PUBLISH"]

    /// Throws the status to answer with (400, 501, 505) when a request cannot be processed.
    public static func validate(request m: SIPMessage) throws {
        guard let method = m.method else { throw SIPMessageError(400, "not a request") }
        let vias = try m.vias()
        guard !vias.isEmpty else { throw SIPMessageError(400, "missing Via") }
        try common(m)
        let cseq = try m.parsedCSeq()
        if cseq.method != method {
            throw knownMethods.contains(method) ? SIPMessageError(400, "CSeq method \(cseq.method) does not match \(method)")
                : SIPMessageError(501, "method \(method) not implemented")
        }
        if let mf = m.header("Max-Forwards") {
            guard let n = Int(mf.trimmingLWS()), (0...255).contains(n) else { throw SIPMessageError(400, "bad Max-Forwards") }
        }
        let contacts = try m.contacts()
        if method == "INVITE" || method == "REFER" || method == "UPDATE", contacts.count > 1 {
            throw SIPMessageError(400, "more than one Contact")
        }
    }

    /// Responses failing this are dropped (a response is never answered).
    public static func validate(response m: SIPMessage) throws {
        guard m.status != nil else { throw SIPMessageError(400, "not a response") }
        guard !(try m.vias()).isEmpty else { throw SIPMessageError(400, "missing Via") }
        try common(m)
    }

    static func common(_ m: SIPMessage) throws {
        guard let callID = m.callID, !callID.isEmpty else { throw SIPMessageError(400, "missing Call-ID") }
        _ = try m.from()
        _ = try m.to()
        _ = try m.parsedCSeq()
        for name in SIPHeaderName.singleValued {
            let values = m.headers.filter { $0.name == name }.map(\.value)
            if Set(values).count > 1 { throw SIPMessageError(400, "\(name) appears more than once") }
        }
    }
}
