import Foundation
import Logging
import SiphonAgent
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonRTP
import SiphonSIP
import Synchronization

/// A worker's telephony: one SIP user agent for all its calls, RTP per call, and the agents it
/// serves. Provides the `sip` transport's `CallRunner` and answers inbound calls by registering
/// them with the worker (so they are persisted, fenced and taken over like outbound ones).
public final class TelephonyService: Sendable {
    public let configuration: TelephonyConfiguration
    public let agents: [String: Agent]
    public let transport: SIPTransport
    public let ua: SIPUserAgent
    let logger: Logger
    private let pending = Mutex<[String: PendingIncoming]>([:])
    private let worker = Mutex<Worker?>(nil)
    /// The agent pipeline's rate for wideband calls (Opus).
    static let pipelineRate = 16000

    /// G.711 calls run at 8 kHz end to end: the VAD is tuned for it, and STT and TTS that speak
    /// the line's rate (Deepgram at 8 kHz, Cartesia and ElevenLabs μ-law) are never resampled.
    /// Wideband codecs keep 16 kHz.
    static func pipelineRate(for codec: AudioCodec?) -> Int {
        codec?.clockRate == 8000 ? 8000 : pipelineRate
    }

    struct PendingIncoming: @unchecked Sendable {
        let call: IncomingCall
        let resolved: AsyncStream<Void>.Continuation
    }

    private init(configuration: TelephonyConfiguration, agents: [Agent], transport: SIPTransport, ua: SIPUserAgent, logger: Logger) {
        self.configuration = configuration
        self.agents = Dictionary(agents.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.transport = transport
        self.ua = ua
        self.logger = logger
    }

    /// Binds the SIP sockets and creates the user agent.
    public static func start(configuration: TelephonyConfiguration, agents: [Agent], logger: Logger = Logger(label: "siphon.telephony")) async throws -> TelephonyService {
        let transport = SIPTransport(configuration: .init(bindHost: configuration.bindHost, port: configuration.sipPort, enableTCP: configuration.enableTCP,
                                                          tls: configuration.tls), logger: logger)
        try await transport.start()
        var uaConfig = SIPUserAgentConfiguration(advertisedHost: configuration.advertisedHost)
        uaConfig.inboundTrunks = configuration.inboundTrunks
        uaConfig.userAgent = "Siphon/\(SiphonVersion.current)"
        let ua = SIPUserAgent(configuration: uaConfig, transport: transport, logger: logger)
        let service = TelephonyService(configuration: configuration, agents: agents, transport: transport, ua: ua, logger: logger)
        await ua.attach()
        await ua.onIncomingCall { [weak service] incoming in await service?.handleIncoming(incoming) }
        logger.info("SIP listening", metadata: ["sip.udp_port": "\(transport.udpPort)", "sip.tcp_port": "\(transport.tcpPort)", "sip.tls_port": "\(transport.tlsPort)",
                                                 "sip.advertised": "\(configuration.advertisedHost)"])
        return service
    }

    /// Receives SIP until the transport stops.
    public func run() async { await ua.run() }

    public func stop() async { await transport.stop() }

    /// Inbound calls are run by this worker.
    public func attach(_ worker: Worker) { self.worker.withLock { $0 = worker } }

    public var runner: SIPCallRunner { SIPCallRunner(service: self) }

    // MARK: inbound

    /// Keeps the worker registered when `SIP_REGISTER` asks for it (run by the worker's services).
    public var registration: TrunkRegistration? {
        configuration.registration.map { TrunkRegistration(ua: ua, settings: $0, logger: logger) }
    }

    /// The number an inbound call is for: its Request-URI's user; else its To's (a registrar sends
    /// the call to our Contact, and the number stays in To); else, for a call through this worker's
    /// registration, the registered line's number (a PBX ringing its extension).
    func dialledNumber(_ incoming: IncomingCall) -> PhoneNumber? {
        Self.dialledNumber(requestUser: incoming.dialled, toUser: (try? incoming.request.to())?.uri.user,
                           line: incoming.trunk == InboundTrunk.registrationName ? configuration.registration?.number : nil)
    }

    /// `line`: the registered line's number, for a call through the registration.
    static func dialledNumber(requestUser: String, toUser: String?, line: PhoneNumber?) -> PhoneNumber? {
        if let n = try? PhoneNumber(requestUser) { return n }
        if let to = toUser, let n = try? PhoneNumber(to) { return n }
        return line
    }

    private func handleIncoming(_ incoming: IncomingCall) async {
        let number = dialledNumber(incoming)
        guard let number else {
            logger.warning("inbound call to a non-E.164 user refused", metadata: ["sip.dialled": "\(incoming.dialled)"])
            return await incoming.reject(status: 404)
        }
        guard let agentName = configuration.inboundNumbers[number.e164] ?? configuration.defaultInboundAgent, agents[agentName] != nil,
              let worker = worker.withLock({ $0 }) else {
            return await incoming.reject(status: 404)
        }
        let job: CallJob
        do {
            job = try CallJob(agent: agentName, to: number, from: try? PhoneNumber(incoming.caller), transport: .sip, direction: .inbound)
        } catch {
            return await incoming.reject(status: 500)
        }
        let (resolved, continuation) = AsyncStream<Void>.makeStream()
        pending.withLock { $0[job.id] = PendingIncoming(call: incoming, resolved: continuation) }
        await incoming.ring()
        let admitted = (try? await worker.admitLocal(job, detail: "inbound from \(incoming.caller) via \(incoming.trunk)")) ?? false
        guard admitted else {
            _ = pending.withLock { $0.removeValue(forKey: job.id) }
            return await incoming.reject(status: 486)
        }
        // Stay in the INVITE's handler until the runner has answered (so a CANCEL still finds it).
        for await _ in resolved { break }
    }

    func takeIncoming(_ id: String) -> PendingIncoming? { pending.withLock { $0.removeValue(forKey: id) } }

    // MARK: trunks

    struct ResolvedTrunk {
        let peer: SIPPeer
        let host: String
        let credentials: DigestCredentials?
        let number: PhoneNumber?

        /// A number at the trunk: its port unless the transport's default, and `transport=tcp|tls`
        /// so that proxies on the way keep to it.
        func uri(user: String) -> SIPURI {
            var uri = SIPURI(user: user, host: host, port: peer.port == peer.transport.defaultPort ? nil : peer.port)
            if let t = peer.transport.uriParameter { uri.parameters["transport"] = t }
            return uri
        }
    }

    func resolveTrunk(_ spec: TrunkSpec?) throws -> ResolvedTrunk {
        var trunk = spec
        if trunk == nil || (trunk?.address == nil && trunk?.name == "default") { trunk = configuration.defaultTrunk }
        guard let trunk, trunk.address != nil else {
            throw SiphonError(.configuration, "no SIP trunk: the job names none and this worker has no default (set SIP_TRUNK_ADDRESS)")
        }
        let (host, port) = try trunk.endpoint()
        var password = trunk.password
        if let sealed = trunk.passwordSealed {
            guard let box = configuration.secretBox else {
                throw SiphonError(.configuration, "the job's trunk password is sealed but this worker has no SIPHON_SECRET_KEY")
            }
            password = try box.open(sealed)
        }
        let credentials = trunk.username.map { DigestCredentials(username: $0, password: password ?? "") }
        return ResolvedTrunk(peer: SIPPeer(host: host, port: port, transport: SIPTransportKind(setting: trunk.transport) ?? .udp),
                             host: host, credentials: credentials, number: trunk.number)
    }

    func rtpSession() -> RTPSession {
        var c = RTPSession.Configuration()
        c.bindHost = configuration.bindHost
        c.portRange = configuration.rtpPorts
        c.pipelineRate = Self.pipelineRate
        return RTPSession(configuration: c, logger: logger)
    }

    /// The media policy of a call whose signalling is TLS or not (`SIP_SRTP`).
    func policy(overTLS: Bool) -> MediaPolicy {
        var p = configuration.policy
        p.srtp = switch configuration.srtp {
        case .auto: overTLS
        case .off: false
        case .required: true
        }
        return p
    }

    func offer(port: Int, policy: MediaPolicy, sessionID: UInt64 = UInt64.random(in: 1...(1 << 40)), version: UInt64 = 1) -> SessionDescription {
        SDPNegotiator.offer(policy: policy, address: configuration.advertisedHost, port: port, sessionID: sessionID, version: version)
    }

    /// The RTP session's settings for what offer/answer agreed.
    public static func parameters(_ m: NegotiatedMedia) -> RTPMediaParameters {
        RTPMediaParameters(codec: m.codec.name, payloadType: UInt8(m.codec.payloadType), dtmfPayloadType: m.dtmfPayloadType.map(UInt8.init),
                           remoteHost: m.remoteHost, remotePort: m.remotePort, sends: m.direction.sends, receives: m.direction.receives,
                           srtp: m.srtp.map { k in
                               let profile: SRTPStream.Profile = switch k.suite {  // exhaustive: a new suite needs its profile
                               case .aes128SHA1_80: .aes128CMSHA1_80
                               case .aes128SHA1_32: .aes128CMSHA1_32
                               }
                               return SRTPParameters(profile: profile, local: k.local, remote: k.remote)
                           })
    }
}
