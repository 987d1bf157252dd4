import ArgumentParser
import Foundation
import Logging
import SiphonCluster
import SiphonCore
import SiphonLiveKit
import SiphonProviderKit
import SiphonRedis

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Redis URL (default: $REDIS_URL, then redis://127.0.0.1:6379/0).")
    var redis: String?

    @Option(help: "Key prefix in Redis.")
    var prefix: String = "siphon"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(help: "Log format: text or json (default: $SIPHON_LOG_FORMAT, then text).")
    var logFormat: String?

    @Option(help: "Path of a .env file to read (the process environment wins); \"\" reads none.")
    var envFile: String = ".env"

    func environment() throws -> Environment { try Environment.load(dotenvPath: envFile.isEmpty ? nil : envFile) }

    func redisURL(_ env: Environment) throws -> RedisURL {
        try RedisURL(redis ?? env["REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
    }

    var keys: ClusterKeys { ClusterKeys(prefix: prefix) }

    func validate() throws {
        do { try Identifier.validateID(prefix, what: "prefix") } catch let e as SiphonError { throw ValidationError(e.message) }
    }

    /// Bootstraps logging once per process (only the executable does this; libraries take a Logger).
    func bootstrapLogging(_ env: Environment, label: String) -> Logger {
        let level = Logger.Level(rawValue: (logLevel ?? env["SIPHON_LOG_LEVEL"] ?? "info").lowercased()) ?? .info
        let json = (logFormat ?? env["SIPHON_LOG_FORMAT"] ?? "text").lowercased() == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : RedactingStreamLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }

    /// The options a command passes on to the siphon processes it starts (not --redis: children
    /// get the URL in REDIS_URL, where `ps` does not show a password).
    func childArguments(envFile: String) -> [String] {
        var out = ["--prefix", prefix, "--env-file", envFile]
        if let logLevel { out += ["--log-level", logLevel] }
        if let logFormat { out += ["--log-format", logFormat] }
        return out
    }

    func client(_ env: Environment, connections: Int = 2, logger: Logger) throws -> RedisClient {
        RedisClient(RedisClient.Configuration(url: try redisURL(env), connections: connections), logger: logger)
    }
}

/// Prints JSON with sorted keys (stable for scripts).
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self))
}

/// Turns library errors into clean one-line failures (exit 1) instead of stack dumps.
func reporting<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as SiphonError {
        throw CleanExit.message("\(e.message)")
    } catch let e as RedisError {
        throw CleanExit.message("\(e)")
    } catch let e as TwirpError {
        throw CleanExit.message("\(e)")
    } catch let e as ProviderError {
        throw CleanExit.message("\(e)")
    } catch let e as ListenError {
        throw CleanExit.message("\(e); \(e.service.option)")
    }
}

enum CleanExit: Error, CustomStringConvertible {
    case message(String)
    var description: String {
        switch self { case .message(let m): m }
    }
}

extension Int64 {
    /// `HH:MM:SS.mmm` in UTC, for human-readable listings.
    var clockTime: String {
        let date = Date(timeIntervalSince1970: Double(self) / 1000)
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss.SSS"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }
}

extension ListenError.Service {
    /// The option that moves this listener, said with the error.
    var option: String {
        switch self {
        case .sipUDP, .sipTCP: "choose another port with --sip-port (0 picks a free one) or another address with --bind"
        case .sipTLS: "choose another port with --sip-tls-port (0 picks a free one) or another address with --bind"
        case .rtp: "give the worker a wider or different range with --rtp-ports"
        case .metrics: "choose another port with --metrics-port (0 turns /metrics and /healthz off)"
        case .api: "choose another port with --port or another address with --host"
        }
    }
}
