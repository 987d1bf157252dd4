/// One address-of-record's binding at a registrar (RFC 3261 10), kept across its refreshes: one
/// Call-ID and a rising CSeq for the life of the process (10.2.4), so the registrar updates the
/// binding rather than adding one per refresh, and a removal (`expires` 0) removes that binding.
public struct SIPRegistration: Sendable {
    /// Where REGISTER goes (its Request-URI), and the hop that carries it.
    public let registrar: SIPURI
    public let peer: SIPPeer
    /// Whose calls the registrar sends here (To and From).
    public let aor: SIPURI
    public let credentials: DigestCredentials?
    let callID: String
    let fromTag = SIPIdentifiers.tag()
    var cseq: UInt32 = 0

    public init(registrar: SIPURI, aor: SIPURI, peer: SIPPeer, credentials: DigestCredentials?) {
        (self.registrar, self.aor, self.peer, self.credentials) = (registrar, aor, peer, credentials)
        callID = SIPIdentifiers.callID(host: aor.host)
    }
}
