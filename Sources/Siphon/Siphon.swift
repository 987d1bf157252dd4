@_exported import SiphonAgent
@_exported import SiphonCore
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SiphonCluster
import SiphonLiveKit
import SiphonRedis
import SiphonRTP
import SiphonTelephony

/// The Swift face of Siphon: serve agents from your own program, place calls, follow them.
///
///     let agent = Agent(name: "Receptionist", llm: …, tts: …, stt: …, instructions: "…")
///     try await Siphon.serve(agents: [agent])            // a worker for these agents, until SIGTERM
///
///     let handle = try await Call(agent: "Receptionist", trunk: .named("default"), to: "+15550200").start()
///     for try await update in handle.updates { … }
public enum Siphon {
    /// How a worker started by `serve` runs; defaults match `siphon worker`.
    public struct ServeOptions: Sendable {
        /// Default: `$REDIS_URL`, then redis://127.0.0.1:6379/0.
        public var redis: String?
        public var workerID = WorkerConfiguration.defaultID()
        public var capacity = 10
        public var heartbeatMs = 500
        public var drainTimeoutMs = 30_000
        /// SIP and RTP settings; default from the environment (`SIP_TRUNK_ADDRESS`, `SIPHON_PUBLIC_IP`, …).
        public var telephony: TelephonyConfiguration?
        /// False: `sim` calls only, no SIP sockets.
        public var sip = true
        public var keyPrefix = "siphon"
        public var logger = Logger(label: "siphon.worker")

        public init() {}
    }

    /// Runs a worker for `agents` (plus its SIP user agent) until SIGTERM or SIGINT, then drains.
    public static func serve(agents: [Agent], options: ServeOptions = ServeOptions(), environment: Environment = .process) async throws {
        try await ServiceGroup(
            configuration: .init(services: try await services(agents: agents, options: options, environment: environment).map { .init(service: $0) },
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: options.logger))
            .run()
    }

    /// The services `serve` runs (with SIP, the user agent; then the worker), for programs that run
    /// their own service group. Keep their order, and put what must outlive the drain (a metrics
    /// server) before them. Calls' media runs on NIO's shared event loops, so this raises those
    /// loops' priority — the whole program's, as they are shared (`SIPHON_MEDIA_NICE` in
    /// `environment`, -10 by default; "0" leaves them as they are).
    public static func services(agents: [Agent], options: ServeOptions, environment: Environment = .process) async throws -> [any Service] {
        let keys = ClusterKeys(prefix: options.keyPrefix)
        var telephony = try options.telephony ?? TelephonyConfiguration.from(environment)
        telephony.defaultInboundAgent = telephony.defaultInboundAgent ?? agents.first?.name
        let livekit = try LiveKitCredentials.from(environment)
        if let dir = telephony.recordingsDirectory {
            // Once, at start-up, for every path that records (SIP, browser, LiveKit): calls create
            // their files on their recorders' queues.
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw SiphonError(.configuration, "SIPHON_RECORDINGS_DIR \(dir): cannot create it (\(error.localizedDescription))")
            }
        }
        // Before any call: its media loops are served before conversations and engines.
        let media = try await MediaPriority.configure(environment["SIPHON_MEDIA_NICE"], logger: options.logger)
        let nice = if case .set(let n)? = media { n } else { MediaPriority.current() }  // else: the process's own
        Gauge(label: "siphon_worker_media_nice").record(Int(nice))
        let config = try WorkerConfiguration(id: options.workerID, capacity: options.capacity, heartbeatMs: options.heartbeatMs,
                                           drainTimeoutMs: options.drainTimeoutMs, agents: agents.map(\.name),
                                           keys: keys)
        let url = try RedisURL(options.redis ?? environment["REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
        var runners: [Transport: any CallRunner] = [.sim: SimCallRunner()]
        if !agents.isEmpty {
            // Browser calls: host candidates as for LiveKit media (SIPHON_WEBRTC_HOSTS), plus
            // SIPHON_PUBLIC_IP and SIPHON_STUN_URLS / SIPHON_TURN_URLS for browsers behind NAT.
            var browser = try BrowserCallRunner.Configuration.from(environment, rtpPorts: telephony.rtpPorts)
            browser.recordingsDirectory = telephony.recordingsDirectory
            runners[.webrtc] = BrowserCallRunner(agents: agents, configuration: browser)
        }
        if let livekit {
            // Trunk provisioning shares a lock and a cache across workers through Redis.
            let redis = RedisClient(RedisClient.Configuration(url: url, connections: 1), logger: options.logger)
            let api = LiveKitAPI(credentials: livekit)
            let c = LiveKitCallRunner.Configuration(roomURL: environment["LIVEKIT_URL"] ?? livekit.httpURL, defaultTrunk: telephony.defaultTrunk,
                                                    trunkID: environment["LIVEKIT_SIP_TRUNK_ID"], secretBox: telephony.secretBox)
            // The agent joins each call's room with WebRTC media (host candidates on this host's
            // interfaces, or SIPHON_WEBRTC_HOSTS; UDP ports from the RTP range).
            var media = LiveKitMediaAgent.Configuration.from(environment, rtpPorts: telephony.rtpPorts)
            media.recordingsDirectory = telephony.recordingsDirectory
            runners[.livekit] = LiveKitCallRunner(api: api, trunks: OutboundTrunkProvisioner(api: api, redis: redis, keyPrefix: options.keyPrefix,
                                                                                             logger: options.logger),
                                                  configuration: c, agent: LiveKitMediaAgent(agents: agents, api: api, configuration: media))
        }
        var service: TelephonyService?
        if options.sip {
            service = try await TelephonyService.start(configuration: telephony, agents: agents, logger: options.logger)
            runners[.sip] = service!.runner
        }
        let w = Worker(configuration: config, redis: url, runners: runners, logger: options.logger)
        service?.attach(w)
        // ServiceGroup shuts services down in reverse order, each after the previous has finished:
        // a registration is removed first (no new calls are sent to a draining worker), the worker
        // drains its calls, and only then does the SIP user agent stop.
        let registration = service?.registration.map { [RegistrationRunner(registration: $0)] } ?? []
        return (service.map { [TelephonyRunner(service: $0)] } ?? []) + [w] + registration
    }
}

/// Keeps the worker registered (`SIP_REGISTER`) until shutdown, then removes the binding.
public struct RegistrationRunner: Service {
    let registration: TrunkRegistration
    public init(registration: TrunkRegistration) { self.registration = registration }
    public func run() async throws {
        let start = try registration.binding()
        let binding = await cancelWhenGracefulShutdown { await registration.keep(start) }
        await registration.remove(binding)
    }
}

/// Keeps the SIP user agent receiving until shutdown.
public struct TelephonyRunner: Service {
    let service: TelephonyService
    public init(service: TelephonyService) { self.service = service }
    public func run() async throws {
        await cancelWhenGracefulShutdown { await service.run() }
        await service.stop()
    }
}
