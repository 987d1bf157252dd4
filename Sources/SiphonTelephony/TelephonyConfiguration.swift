import SiphonCore
import SiphonSIP

/// A worker's telephony settings: its SIP and RTP sockets, the trunks it calls through, and who
/// may call it. From the environment and `siphon worker` flags (see docs/configuration.md).
public struct TelephonyConfiguration: Sendable {
    public var bindHost = "0.0.0.0"
    public var sipPort = 5060
    /// The address carriers reach this worker at (Via, Contact, SDP). Required behind NAT.
    public var advertisedHost = "127.0.0.1"
    public var rtpPorts: ClosedRange<Int> = 16384...32767
    public var enableTCP = true
    /// SIP over TLS: the listener's certificate and key (`SIP_TLS_CERT`, `SIP_TLS_KEY`), the
    /// authorities trusted when dialling a `tls` trunk (`SIP_TLS_CA`, else the system's).
    public var tls = SIPTLSConfiguration()
    /// When calls use SRTP (SDES keys), `SIP_SRTP`. An SRTP offer is always answered with SRTP.
    public var srtp = SRTPMode.auto

    public enum SRTPMode: String, Sendable {
        /// Calls whose signalling is TLS offer SRTP and take only SRTP; others plain RTP.
        case auto
        /// Plain RTP on TLS too, for a carrier that encrypts signalling only.
        case off
        /// Every call SRTP: plain RTP offers are refused (488), ours offer SRTP even without TLS.
        case required
    }
    public var policy = MediaPolicy()
    /// The trunk used when a job names none (or names "default").
    public var defaultTrunk: TrunkSpec?
    public var inboundTrunks: [InboundTrunk] = []
    /// Dialled number → agent for inbound calls; unmatched numbers go to `defaultInboundAgent`.
    public var inboundNumbers: [String: String] = [:]
    public var defaultInboundAgent: String?
    /// Registration at the carrier or PBX (`SIP_REGISTER`), for lines that send calls to a
    /// registered contact; nil when calls come to this worker's address.
    public var registration: TrunkRegistration.Settings?
    public var secretBox: SecretBox?
    /// When set, every call is recorded there as `<call id>-<epoch>.wav` (stereo: caller left,
    /// agent right, 16 kHz). Recordings hold personal data: keep the directory private.
    public var recordingsDirectory: String?

    public init() {}

    /// Reads the seed's variables (`SIP_TRUNK_ADDRESS`, `SIP_USERNAME`, `SIP_PASSWORD`, `FROM_NUMBER`)
    /// and Siphon's own (`SIP_INBOUND_*`, `SIPHON_SECRET_KEY`, `SIPHON_PUBLIC_IP`).
    public static func from(_ env: Environment) throws -> TelephonyConfiguration {
        var c = TelephonyConfiguration()
        if let ip = env["SIPHON_PUBLIC_IP"] { c.advertisedHost = ip }
        if let address = env["SIP_TRUNK_ADDRESS"] {
            c.defaultTrunk = TrunkSpec(name: "default", address: address, transport: env["SIP_TRUNK_TRANSPORT"] ?? "udp",
                                       number: try env["FROM_NUMBER"].map(PhoneNumber.init), username: env["SIP_USERNAME"],
                                       password: env["SIP_PASSWORD"])
            try c.defaultTrunk?.validate()
        }
        if let allow = env["SIP_INBOUND_ALLOW"] {
            let credentials = env["SIP_INBOUND_USERNAME"].map { DigestCredentials(username: $0, password: env["SIP_INBOUND_PASSWORD"] ?? "") }
            c.inboundTrunks = [InboundTrunk(name: "inbound", allowedAddresses: allow.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                            credentials: credentials)]
        }
        if let numbers = env["SIP_INBOUND_NUMBERS"] {
            for pair in numbers.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { throw SiphonError(.configuration, "SIP_INBOUND_NUMBERS: expected +E164=agent pairs") }
                c.inboundNumbers[try PhoneNumber(String(kv[0])).e164] = kv[1].trimmingCharacters(in: .whitespaces)
            }
        }
        c.tls.certificateChainPath = env["SIP_TLS_CERT"]
        c.tls.privateKeyPath = env["SIP_TLS_KEY"]
        c.tls.trustRootsPath = env["SIP_TLS_CA"]
        if (c.tls.certificateChainPath == nil) != (c.tls.privateKeyPath == nil) {
            throw SiphonError(.configuration, "SIP_TLS_CERT and SIP_TLS_KEY go together: the TLS listener needs both")
        }
        let srtp = env["SIP_SRTP"] ?? "auto"
        guard let mode = SRTPMode(rawValue: srtp) else {
            throw SiphonError(.configuration, "SIP_SRTP must be auto, off or required, not '\(srtp.prefix(20))'")
        }
        c.srtp = mode
        c.registration = try registration(env)
        c.secretBox = try SecretBox.from(env)
        c.recordingsDirectory = env["SIPHON_RECORDINGS_DIR"]
        return c
    }

    /// `SIP_REGISTER=true`: register `SIP_REGISTER_USER` (else `SIP_USERNAME`) at `SIP_REGISTRAR`
    /// (else the trunk's address) over the trunk's transport, with the trunk's credentials.
    public static func registration(_ env: Environment) throws -> TrunkRegistration.Settings? {
        switch env["SIP_REGISTER"]?.lowercased() {
        case nil, "", "false", "0", "no", "off": return nil
        case "true", "1", "yes", "on": break
        case let other?: throw SiphonError(.configuration, "SIP_REGISTER must be true or false, not '\(other.prefix(20))'")
        }
        guard let registrar = env["SIP_REGISTRAR"] ?? env["SIP_TRUNK_ADDRESS"] else {
            throw SiphonError(.configuration, "SIP_REGISTER needs a registrar: SIP_REGISTRAR or SIP_TRUNK_ADDRESS (host[:port])")
        }
        let transportName = env["SIP_TRUNK_TRANSPORT"] ?? "udp"
        guard let transport = SIPTransportKind(setting: transportName) else {
            throw SiphonError(.configuration, "SIP_TRUNK_TRANSPORT must be udp, tcp or tls, not '\(transportName.prefix(20))'")
        }
        do {
            _ = try TrunkSpec.hostPort(registrar)
        } catch {
            throw SiphonError(.configuration, "SIP_REGISTRAR '\(registrar.prefix(80))' is not host[:port]")
        }
        guard let user = env["SIP_REGISTER_USER"] ?? env["SIP_USERNAME"], !user.isEmpty else {
            throw SiphonError(.configuration, "SIP_REGISTER needs the user to register: SIP_REGISTER_USER or SIP_USERNAME")
        }
        let credentials = env["SIP_USERNAME"].map { DigestCredentials(username: $0, password: env["SIP_PASSWORD"] ?? "") }
        var settings = TrunkRegistration.Settings(registrar: registrar, transport: transport, user: user, domain: env["SIP_REGISTER_DOMAIN"],
                                                  credentials: credentials)
        if let text = env["SIP_REGISTER_EXPIRES"] {
            guard let seconds = Int(text), (60...86_400).contains(seconds) else {
                throw SiphonError(.configuration, "SIP_REGISTER_EXPIRES must be 60 to 86400 seconds, not '\(text.prefix(20))'")
            }
            settings.expires = seconds
        }
        settings.number = try (env["SIP_REGISTER_NUMBER"] ?? env["FROM_NUMBER"]).map { try PhoneNumber($0) }
        return settings
    }
}
