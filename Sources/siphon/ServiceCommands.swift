import ArgumentParser
import Logging
import ServiceLifecycle
import SiphonAgent
import SiphonCluster
import SiphonCore
import SiphonLiveKit
import SiphonRedis
import SiphonRTP
import Siphon
import SiphonTelephony

/// Runs services until SIGTERM/SIGINT, then shuts them down gracefully (workers drain).
func runServices(_ services: [any Service], logger: Logger) async throws {
    let group = ServiceGroup(configuration: .init(
        services: services.map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatcher", abstract: "Serve the HTTP API that validates and enqueues calls.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Port to listen on.") var port: Int = 8080
    @Option(help: "Address to listen on.") var host: String = "0.0.0.0"
    @Flag(help: "Serve /v1 without a bearer token (local development only).") var noAuth = false
    @Flag(help: "Do not serve the operator console at /.") var noConsole = false

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.dispatcher")
        let token = env["SIPHON_API_TOKEN"]
        if token == nil, !noAuth {
            throw CleanExit.message("SIPHON_API_TOKEN is not set; set it (clients send 'Authorization: Bearer <token>') or pass --no-auth for local development")
        }
        if noAuth { logger.warning("serving /v1 without authentication (--no-auth)") }
        try await reporting { try ListenError.probeTCP(.api, host: host, port: port) }
        let client = try common.client(env, connections: 4, logger: logger)
        try await client.load([])  // fail fast with a clear error if Redis is unreachable
        let queue = CallQueue(client: client, keys: common.keys)
        try await queue.ensureGroup()
        let box = try await reporting { try SecretBox.from(env) }
        var apiConfig = DispatcherConfiguration(host: host, port: port, apiToken: noAuth ? nil : token, keys: common.keys)
        apiConfig.metrics = PrometheusBootstrap.start()
        apiConfig.validateOffer = { try BrowserCallRunner.parseOffer($0) }
        apiConfig.console = !noConsole
        apiConfig.recordingsDirectory = env["SIPHON_RECORDINGS_DIR"]
        let url = try common.redisURL(env)
        let activity = ActivityFeed(url: url, keys: common.keys, logger: logger)
        defer { activity.close() }
        apiConfig.activity = activity
        let api = DispatcherAPI(configuration: apiConfig, client: client, secretBox: box)
        logger.info("dispatcher listening", metadata: ["http.address": "\(host):\(port)", "redis.url": "\(url)"])
        var services: [any Service] = [api.application(logger: logger)]
        if let livekit = try await reporting({ try LiveKitCredentials.from(env) }) {
            // Inbound LiveKit calls: registered as LiveKit agent workers for the agents the cluster serves.
            services.append(LiveKitAgentDispatcher(credentials: livekit, queue: queue, logger: logger))
        }
        try await reporting { try await runServices(services, logger: logger) }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Claim call jobs from Redis and run them (sim and SIP calls, inbound and outbound).")

    @OptionGroup var common: CommonOptions
    @Option(help: "Calls this worker runs at once.") var capacity: Int = 10
    @Option(help: "Worker id (default: w-<host>-<pid>).") var id: String?
    @Option(help: "Heartbeat interval in milliseconds; the worker is declared dead after 3 missed beats.") var heartbeatMs: Int = 500
    @Option(help: "On SIGTERM, seconds to let calls finish before handing them off.") var drainTimeout: Double = 30
    @Option(help: "Agent configuration (agent_config.yaml); default: $SIPHON_AGENT_CONFIG, else the built-in offline receptionist.") var config: String?
    @Option(help: "SIP port (UDP and TCP); 0 picks a free one.") var sipPort: Int = 5060
    @Option(help: "SIP over TLS port, opened when SIP_TLS_CERT and SIP_TLS_KEY are set; 0 picks a free one.") var sipTlsPort: Int = 5061
    @Option(help: "Address to bind SIP and RTP sockets to.") var bind: String = "0.0.0.0"
    @Option(help: "Address carriers reach this worker at (default: $SIPHON_PUBLIC_IP, else this host's first IPv4).") var sipHost: String?
    @Option(help: "RTP port range, e.g. 16384-32767.") var rtpPorts: String = "16384-32767"
    @Flag(help: "Run sim calls only (no SIP sockets).") var noSip = false
    @Option(help: "Port of /metrics and /healthz (0: none; supervisors default to 9465, so both run on one host).") var metricsPort: Int = 9464

    func validate() throws {
        guard (1...10_000).contains(capacity) else { throw ValidationError("--capacity: 1 to 10000 calls") }
        guard (50...60_000).contains(heartbeatMs) else { throw ValidationError("--heartbeat-ms: 50 to 60000") }
        guard drainTimeout.isFinite, (0...3600).contains(drainTimeout) else { throw ValidationError("--drain-timeout: 0 to 3600 seconds") }
        guard (0...65535).contains(sipPort), (0...65535).contains(sipTlsPort), (0...65535).contains(metricsPort) else { throw ValidationError("ports are 0 to 65535") }
    }

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.worker")
        // Before anything binds SIP or claims a call: a taken metrics port stops the worker here.
        try await reporting { try ListenError.probeTCP(.metrics, host: "0.0.0.0", port: metricsPort) }
        let (options, agents) = try await reporting { () -> (Siphon.ServeOptions, [Agent]) in
            let agents = try AgentLoader.load(path: config ?? env["SIPHON_AGENT_CONFIG"], environment: env)
            var t = try TelephonyConfiguration.from(env)
            t.bindHost = bind
            t.sipPort = sipPort
            t.tls.port = sipTlsPort
            t.advertisedHost = sipHost ?? env["SIPHON_PUBLIC_IP"] ?? HostAddress.primaryIPv4() ?? "127.0.0.1"
            t.rtpPorts = try Self.portRange(rtpPorts)
            var o = Siphon.ServeOptions()
            _ = try common.redisURL(env)  // a malformed URL fails here, with the flag's name
            o.redis = common.redis ?? env["REDIS_URL"]
            o.workerID = id ?? WorkerConfiguration.defaultID()
            o.capacity = capacity
            o.heartbeatMs = heartbeatMs
            o.drainTimeoutMs = Int(drainTimeout * 1000)
            o.telephony = t
            o.sip = !noSip
            o.keyPrefix = common.prefix
            o.logger = logger
            return (o, agents)
        }
        // Before the services: what they record at start (the media loops' priority) is kept.
        let render = metricsPort > 0 ? PrometheusBootstrap.start() : nil
        var services = try await reporting { try await Siphon.services(agents: agents, options: options, environment: env) }
        if let render, let worker = services.first(where: { $0 is Worker }) as? Worker {
            // First, so it is shut down last: /healthz reports the drain while it happens.
            services.insert(MetricsServer(port: metricsPort, role: "worker", logger: logger, render: render) {
                ["active_calls": worker.activeCalls, "suspended_calls": worker.suspendedCalls, "capacity": worker.configuration.capacity,
                 "draining": worker.isDraining ? 1 : 0, "rtp_packets_sent": RTPSession.packetsSentTotal]
            }, at: 0)
        }
        try await reporting { try await runServices(services, logger: logger) }
    }

    static func portRange(_ text: String) throws -> ClosedRange<Int> {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 1024, parts[1] <= 65535, parts[1] - parts[0] >= 2 else {
            throw SiphonError(.configuration, "--rtp-ports must look like 16384-32767 (at least 2 ports, above 1023)")
        }
        return parts[0]...parts[1]
    }
}

struct SupervisorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervisor", abstract: "Detect dead workers and reassign their calls (run one or more).")

    @OptionGroup var common: CommonOptions
    @Option(help: "Supervisor id (default: s-<host>-<pid>).") var id: String?
    @Option(help: "Milliseconds between passes.") var tickMs: Int = 100
    @Option(help: "Port of /metrics and /healthz (0: none; workers default to 9464).") var metricsPort: Int = 9465

    func validate() throws {
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port: 0 to 65535") }
        guard (10...10_000).contains(tickMs) else { throw ValidationError("--tick-ms: 10 to 10000") }
    }

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.supervisor")
        try await reporting { try ListenError.probeTCP(.metrics, host: "0.0.0.0", port: metricsPort) }
        var config = SupervisorConfiguration(tickMs: tickMs, keys: common.keys)
        if let id {
            try await reporting { try Identifier.validateID(id, what: "supervisor id") }
            config.id = id
        }
        var services: [any Service] = [Supervisor(configuration: config, redis: try common.redisURL(env), logger: logger)]
        if metricsPort > 0 { services.insert(MetricsServer(port: metricsPort, role: "supervisor", logger: logger, render: PrometheusBootstrap.start()), at: 0) }
        try await reporting { try await runServices(services, logger: logger) }
    }
}
