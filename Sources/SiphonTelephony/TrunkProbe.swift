import Foundation
import Logging
import SiphonCore
import SiphonSIP

/// Checks a SIP trunk from this host: an OPTIONS ping (is the carrier's edge reachable, what does it
/// answer) and, when asked, a REGISTER with the trunk's credentials (are they right). For
/// `siphon sip probe` and the pre-flight checks.
public struct TrunkProbe: Sendable {
    public struct Result: Sendable, Encodable {
        public var address: String
        public var transport: String
        /// Whether any reply to OPTIONS came back.
        public var reachable = false
        /// The OPTIONS final status (408: no answer at all).
        public var optionsStatus: Int
        public var optionsReason: String
        public var roundTripMs: Int
        /// What the far end says it is and supports (Server / User-Agent, Allow).
        public var server: String?
        public var allow: String?
        /// Set when a REGISTER was asked for: the expiry granted, or why it failed.
        public var registered: Bool?
        public var registerExpires: Int?
        public var registerError: String?

        /// Reachable, and registered when registration was asked for. Any answer to OPTIONS
        /// counts: carriers often answer 403/404/405 to OPTIONS from unknown sources yet route calls.
        public var ok: Bool { reachable && registered != false }

        enum CodingKeys: String, CodingKey {
            case address, transport, ok, reachable, server, allow, registered
            case optionsStatus = "options_status", optionsReason = "options_reason", roundTripMs = "round_trip_ms"
            case registerExpires = "register_expires", registerError = "register_error"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address)
            try c.encode(transport, forKey: .transport)
            try c.encode(ok, forKey: .ok)
            try c.encode(reachable, forKey: .reachable)
            try c.encode(optionsStatus, forKey: .optionsStatus)
            try c.encode(optionsReason, forKey: .optionsReason)
            try c.encode(roundTripMs, forKey: .roundTripMs)
            try c.encodeIfPresent(server, forKey: .server)
            try c.encodeIfPresent(allow, forKey: .allow)
            try c.encodeIfPresent(registered, forKey: .registered)
            try c.encodeIfPresent(registerExpires, forKey: .registerExpires)
            try c.encodeIfPresent(registerError, forKey: .registerError)
        }
    }

    public var trunk: TrunkSpec
    /// The address-of-record to REGISTER (a worker's `SIP_REGISTER` binding); else the trunk's
    /// username at its host.
    public var aor: SIPURI?
    /// The address the far end should answer to (Via/Contact).
    public var advertisedHost: String
    public var bindHost: String
    /// The authorities trusted for a `tls` trunk (the system's when none is named).
    public var tls = SIPTLSConfiguration()

    public init(trunk: TrunkSpec, advertisedHost: String, bindHost: String = "0.0.0.0") {
        self.trunk = trunk
        self.advertisedHost = advertisedHost
        self.bindHost = bindHost
    }

    public func run(register: Bool, logger: Logger = Logger(label: "siphon.sip.probe")) async throws -> Result {
        try trunk.validate()
        guard let address = trunk.address else { throw SiphonError(.configuration, "the trunk has no address") }
        if register, trunk.username == nil, aor == nil { throw SiphonError(.configuration, "--register needs the trunk's username and password") }
        let (host, port) = try trunk.endpoint()
        let kind = SIPTransportKind(setting: trunk.transport) ?? .udp
        let peer = SIPPeer(host: host, port: port, transport: kind)

        let transport = SIPTransport(configuration: .init(bindHost: bindHost, port: 0, enableTCP: kind == .tcp,
                                                          tls: SIPTLSConfiguration(trustRootsPath: tls.trustRootsPath)), logger: logger)
        try await transport.start()
        var config = SIPUserAgentConfiguration(advertisedHost: advertisedHost)
        config.userAgent = "Siphon/\(SiphonVersion.current) probe"
        let ua = SIPUserAgent(configuration: config, transport: transport, logger: logger)
        await ua.attach()
        let receiving = Task { await ua.run() }
        defer { receiving.cancel() }

        let target = try SIPURI("sip:\(host.contains(":") ? "[\(host)]" : host):\(port)")
        let started = ContinuousClock.now
        var result: Result
        do {
            let reply = try await ua.options(target: target, peer: peer)
            let rtt = ContinuousClock.now - started
            result = Result(address: address, transport: trunk.transport, optionsStatus: reply.status ?? 0, optionsReason: reply.reason ?? "",
                            roundTripMs: Int(rtt.wholeMilliseconds),
                            server: reply.header("Server") ?? reply.header("User-Agent"), allow: reply.header("Allow"))
            result.reachable = true
        } catch let e as SIPMessageError {
            result = Result(address: address, transport: trunk.transport, optionsStatus: e.status, optionsReason: e.reason, roundTripMs: 0)
        } catch {
            // A transport error (unresolvable host, refused TCP connection): unreachable.
            result = Result(address: address, transport: trunk.transport, optionsStatus: 503, optionsReason: Redaction.redact("\(error)"), roundTripMs: 0)
        }
        if register, let aor = try aor ?? trunk.username.map({ try SIPURI("sip:\($0)@\(host.contains(":") ? "[\(host)]" : host)") }) {
            var registration = SIPRegistration(registrar: target, aor: aor, peer: peer,
                                               credentials: trunk.username.map { DigestCredentials(username: $0, password: trunk.password ?? "") })
            do {
                result.registerExpires = try await ua.register(&registration, expires: 60)
                result.registered = true
                // Leave nothing behind at the registrar: a probe is not a worker.
                _ = try? await ua.register(&registration, expires: 0)
            } catch {
                result.registered = false
                result.registerError = Redaction.redact((error as? SIPMessageError)?.reason ?? "\(error)")
            }
        }
        await transport.stop()
        return result
    }
}
