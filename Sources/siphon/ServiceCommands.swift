import ArgumentParser
import Logging
import ServiceLifecycle
import SiphonCluster
import SiphonCore
import SiphonRedis

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

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.dispatcher")
        let token = env["SIPHON_API_TOKEN"]
        if token == nil, !noAuth {
            throw CleanExit.message("SIPHON_API_TOKEN is not set; set it (clients send 'Authorization: Bearer <token>') or pass --no-auth for local development")
        }
        if noAuth { logger.warning("serving /v1 without authentication (--no-auth)") }
        let client = try common.client(env, connections: 4, logger: logger)
        try await client.load([])  // fail fast with a clear error if Redis is unreachable
        let queue = CallQueue(client: client, keys: common.keys)
        try await queue.ensureGroup()
        let box = try await reporting { try SecretBox.from(env) }
        let api = DispatcherAPI(configuration: .init(host: host, port: port, apiToken: noAuth ? nil : token, keys: common.keys), client: client, secretBox: box)
        let url = try common.redisURL(env)
        logger.info("dispatcher listening", metadata: ["http.address": "\(host):\(port)", "redis.url": "\(url)"])
        try await runServices([api.application(logger: logger)], logger: logger)
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Claim call jobs from Redis and run them.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Calls this worker runs at once.") var capacity: Int = 10
    @Option(help: "Worker id (default: w-<host>-<pid>).") var id: String?
    @Option(help: "Heartbeat interval in milliseconds; the worker is declared dead after 3 missed beats.") var heartbeatMs: Int = 500
    @Option(help: "On SIGTERM, seconds to let calls finish before handing them off.") var drainTimeout: Double = 30
    @Option(name: .customLong("agent"), help: "An agent this worker serves (repeatable).") var agents: [String] = []

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.worker")
        let config = try await reporting {
            try WorkerConfiguration(
                id: id ?? WorkerConfiguration.defaultID(), capacity: capacity, heartbeatMs: heartbeatMs,
                drainTimeoutMs: Int(drainTimeout * 1000), agents: agents, keys: common.keys)
        }
        let worker = Worker(configuration: config, redis: try common.redisURL(env), logger: logger)
        try await runServices([worker], logger: logger)
    }
}

struct SupervisorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervisor", abstract: "Detect dead workers and reassign their calls (run one or more).")

    @OptionGroup var common: CommonOptions
    @Option(help: "Supervisor id (default: s-<host>-<pid>).") var id: String?
    @Option(help: "Milliseconds between passes.") var tickMs: Int = 100

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.supervisor")
        var config = SupervisorConfiguration(tickMs: tickMs, keys: common.keys)
        if let id {
            try await reporting { try Identifier.validateID(id, what: "supervisor id") }
            config.id = id
        }
        try await runServices([Supervisor(configuration: config, redis: try common.redisURL(env), logger: logger)], logger: logger)
    }
}
