import Foundation

/// A dialog's state (RFC 3261 12): enough to send requests inside it from any worker, which is what
/// call takeover needs — it is saved in the call hash and restored by the next owner.
public struct SIPDialog: Sendable, Codable, Equatable {
    public var callID: String
    public var localTag: String
    public var remoteTag: String
    public var localSeq: UInt32
    public var remoteSeq: UInt32?
    /// Our address-of-record (From when we called, To when we answered), as a name-addr.
    public var localURI: String
    public var remoteURI: String
    /// Where in-dialog requests go: the peer's Contact.
    public var remoteTarget: String
    /// Route headers for in-dialog requests, in order (from Record-Route).
    public var routeSet: [String]
    /// The next hop for the dialog's requests (the trunk or proxy address and transport).
    public var peer: SIPPeer
    public var isCaller: Bool
    /// SDP origin values we use, so a re-INVITE from a new worker continues the version sequence.
    public var sdpSessionID: UInt64
    public var sdpVersion: UInt64
    /// The last negotiated media (remote address, codec), for the new owner of the call.
    public var remoteSDP: String?
    public var localSDP: String?
    /// Session timer interval in seconds, and whether we refresh (RFC 4028).
    public var sessionExpires: Int?
    public var weRefresh = false

    public var key: SIPDialogKey { SIPDialogKey(callID: callID, localTag: localTag, remoteTag: remoteTag) }

    /// Where the far end listens. A call that came in over TCP or TLS has the caller's connection
    /// as `peer`, whose source port listens for nothing: when that connection is not open here (it
    /// closed, or it was a dead worker's), requests go to the caller's first Route, else its Contact
    /// (the remote target). Otherwise `peer`.
    public var listeningPeer: SIPPeer {
        guard !isCaller, peer.transport.isStream, let next = firstHop else { return peer }
        return SIPPeer(host: next.host, port: next.port ?? peer.transport.defaultPort, transport: peer.transport)
    }

    /// A SIPS dialog (RFC 3261 12.1): its requests go to a `sips:` target or first Route, so our
    /// Contact in them and in answers to them must be `sips:` too. Only over TLS: a `sips:` URI
    /// on a plain transport is the far end's mistake, and a `sips:` Contact would send it to TLS.
    public var isSecure: Bool {
        peer.transport == .tls && firstHop?.scheme == "sips"
    }

    /// Where the dialog's requests are addressed first: its first Route, else the remote target.
    private var firstHop: SIPURI? {
        routeSet.first.flatMap { try? NameAddress(parsing: $0).uri } ?? (try? SIPURI(remoteTarget))
    }

    /// What is saved for a takeover: SRTP keys are left out of the SDPs (a new owner offers new
    /// ones; keys never reach Redis).
    public func json() -> String {
        var stored = self
        stored.localSDP = localSDP.map(SessionDescription.removingKeys)
        stored.remoteSDP = remoteSDP.map(SessionDescription.removingKeys)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: (try? e.encode(stored)) ?? Data(), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> SIPDialog {
        try JSONDecoder().decode(SIPDialog.self, from: Data(json.utf8))
    }

    /// Builds a request inside the dialog (RFC 3261 12.2.1.1), with a fresh CSeq (except ACK/CANCEL).
    public mutating func request(_ method: String, via: ViaHeader, contact: String, userAgent: String) -> SIPMessage {
        if method != "ACK" && method != "CANCEL" { localSeq += 1 }
        var target = remoteTarget
        var routes = routeSet
        // strict routing (first route without ;lr): the route goes in the Request-URI
        if let first = routes.first, let addr = try? NameAddress(parsing: first), !addr.uri.parameters.has("lr") {
            routes.removeFirst()
            routes.append("<\(remoteTarget)>")
            target = addr.uri.description
        }
        var m = SIPMessage(startLine: .request(method: method, uri: target))
        m.add("Via", via.description)
        for r in routes { m.add("Route", r) }
        m.add("Max-Forwards", "70")
        let localAddr = (try? NameAddress(parsing: localURI)).map { a -> String in var b = a; b.tag = localTag; return b.description } ?? localURI
        let remoteAddr = (try? NameAddress(parsing: remoteURI)).map { a -> String in var b = a; b.tag = remoteTag; return b.description } ?? remoteURI
        m.add("From", localAddr)
        m.add("To", remoteAddr)
        m.add("Call-ID", callID)
        m.add("CSeq", "\(localSeq) \(method)")
        m.add("Contact", contact)
        m.add("User-Agent", userAgent)
        return m
    }

    /// Takes a new remote target from a Contact (target refresh by re-INVITE/UPDATE/2xx).
    mutating func refreshTarget(from message: SIPMessage) {
        if let c = try? message.contacts().first { remoteTarget = c.uri.description }
    }
}

public struct SIPDialogKey: Sendable, Hashable, CustomStringConvertible {
    public var callID: String
    public var localTag: String
    public var remoteTag: String

    public var description: String { "\(callID);\(localTag);\(remoteTag)" }
}

/// Random tags, branches and Call-IDs.
public enum SIPIdentifiers {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)

    public static func random(_ n: Int) -> String {
        var out = [UInt8]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(alphabet[Int.random(in: 0..<alphabet.count)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func branch() -> String { ViaHeader.magicCookie + random(16) }
    public static func tag() -> String { random(12) }
    public static func callID(host: String) -> String { "\(random(20))@\(host)" }
}
