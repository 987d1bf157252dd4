import Foundation
import Testing
import SiphonCore
import SiphonSIP
@testable import SiphonTelephony

/// `SIP_REGISTER`'s settings, and the keeper's timing: refresh before expiry, back off when refused.
@Suite struct TrunkRegistrationTests {
    static let base = ["SIP_TRUNK_ADDRESS": "sip.carrier.example", "SIP_USERNAME": "acct7", "SIP_PASSWORD": "pw", "FROM_NUMBER": "+15550100000"]

    static func settings(_ extra: [String: String]) throws -> TrunkRegistration.Settings? {
        try TelephonyConfiguration.registration(Environment(base.merging(extra) { $1 }))
    }

    @Test func defaultsComeFromTheTrunk() throws {
        #expect(try Self.settings([:]) == nil, "off unless asked")
        let s = try #require(try Self.settings(["SIP_REGISTER": "true"]))
        #expect(s.registrar == "sip.carrier.example" && s.transport == .udp && s.user == "acct7" && s.domain == nil && s.expires == 600)
        #expect(s.credentials == DigestCredentials(username: "acct7", password: "pw") && s.number?.e164 == "+15550100000")
        let pbx = try #require(try Self.settings(["SIP_REGISTER": "yes", "SIP_REGISTRAR": "10.0.0.5:5080", "SIP_REGISTER_USER": "201",
                                                  "SIP_REGISTER_DOMAIN": "pbx.local", "SIP_REGISTER_EXPIRES": "3600",
                                                  "SIP_REGISTER_NUMBER": "+15550100201", "SIP_TRUNK_TRANSPORT": "tcp"]))
        #expect(pbx.registrar == "10.0.0.5:5080" && pbx.transport == .tcp && pbx.user == "201" && pbx.domain == "pbx.local")
        #expect(pbx.expires == 3600 && pbx.number?.e164 == "+15550100201")
        let binding = try TrunkRegistration(ua: SIPUserAgent(configuration: .init(advertisedHost: "127.0.0.1"), sender: NullSIPSender(), localPorts: [:]),
                                            settings: pbx, logger: .init(label: "test")).binding()
        #expect(binding.registrar.description == "sip:10.0.0.5:5080;transport=tcp" && binding.aor.description == "sip:201@pbx.local")
        #expect(binding.peer == SIPPeer(host: "10.0.0.5", port: 5080, transport: .tcp))
    }

    @Test(arguments: [
        (["SIP_REGISTER": "maybe"], "SIP_REGISTER must be true or false"),
        (["SIP_REGISTER": "true", "SIP_REGISTRAR": "pbx:99999"], "SIP_REGISTRAR 'pbx:99999' is not host[:port]"),
        (["SIP_REGISTER": "true", "SIP_REGISTER_EXPIRES": "30"], "SIP_REGISTER_EXPIRES must be 60 to 86400"),
        (["SIP_REGISTER": "true", "SIP_TRUNK_TRANSPORT": "sctp"], "SIP_TRUNK_TRANSPORT must be udp, tcp or tls"),
        (["SIP_REGISTER": "true", "SIP_REGISTER_NUMBER": "5551234"], "E.164"),
    ])
    func badSettingsSayWhat(_ extra: [String: String], _ message: String) throws {
        let error = try #require(#expect(throws: SiphonError.self) { try Self.settings(extra) })
        #expect("\(error)".contains(message), "\(error)")
        #expect(!"\(error)".contains("pw"))
    }

    /// What an inbound call is for: the Request-URI's number, else the To's (a registrar sends the
    /// call to our Contact), else the registered line's; a call naming none, not through a
    /// registration, is for nobody (404).
    @Test func aCallIsForTheNumberItNamesElseTheRegisteredLine() throws {
        let line = try PhoneNumber("+15550100201")
        #expect(TelephonyService.dialledNumber(requestUser: "+15550200123", toUser: "+15550200999", line: line)?.e164 == "+15550200123")
        #expect(TelephonyService.dialledNumber(requestUser: "siphon", toUser: "+15550200999", line: line)?.e164 == "+15550200999")
        #expect(TelephonyService.dialledNumber(requestUser: "siphon", toUser: "201", line: line)?.e164 == "+15550100201")
        #expect(TelephonyService.dialledNumber(requestUser: "siphon", toUser: "201", line: nil) == nil)
    }

    @Test func refreshesBeforeExpiryAndBacksOffWhenRefused() {
        #expect(TrunkRegistration.refreshDelay(granted: 600) == .seconds(480))
        #expect(TrunkRegistration.refreshDelay(granted: 2) == .seconds(5), "a registrar granting seconds is not refreshed in a busy loop")
        let first = (0..<50).map { _ in TrunkRegistration.retryDelay(failures: 1) }
        #expect(first.allSatisfy { $0 >= .seconds(4) && $0 <= .seconds(6) } && Set(first).count > 1, "5 s, jittered")
        #expect(TrunkRegistration.retryDelay(failures: 3) >= .seconds(16) && TrunkRegistration.retryDelay(failures: 3) <= .seconds(24))
        #expect((0..<20).map { _ in TrunkRegistration.retryDelay(failures: 40) }.allSatisfy { $0 <= .seconds(360) && $0 >= .seconds(240) })
    }
}

/// Sends nowhere: the keeper's binding is built, not sent.
final class NullSIPSender: SIPMessageSender, Sendable {
    func send(_ bytes: [UInt8], to peer: SIPPeer) async throws {}
}
