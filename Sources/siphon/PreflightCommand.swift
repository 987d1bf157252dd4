import ArgumentParser
import Foundation
import SiphonCore

/// `siphon preflight`: the pre-flight checklist of docs/preflight.md as a command.
struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "Check a deployment before real calls: environment, Redis, SIP trunk, LiveKit and its WebRTC media path, VAD, codecs, barge-in.",
        discussion: "Each check prints pass, warn, fail or skip, with the fix. Exit status 1 if any check failed.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Agent configuration (default: $SIPHON_AGENT_CONFIG, else the built-in agent).") var config: String?
    @Option(help: "A recording of the line (WAV, 8 or 16 kHz) to calibrate the VAD on, instead of generated audio.") var vadSample: String?
    @Option(help: "Address the trunk should answer to (default: $SIPHON_PUBLIC_IP, else this host's first IPv4).") var sipHost: String?
    @Option(help: "The workers' RTP port range (their --rtp-ports): WebRTC to LiveKit uses it too.") var rtpPorts: String = "16384-32767"
    @Option(help: "Skip a check (repeatable): \(Preflight.checks.joined(separator: ", ")).") var skip: [String] = []
    @Flag(help: "JSON output.") var json = false

    func validate() throws {
        for s in skip where !Preflight.checks.contains(s) {
            throw ValidationError("--skip \(s): not a check (\(Preflight.checks.joined(separator: ", ")))")
        }
    }

    func run() async throws {
        let env = try common.environment()
        var logger = common.bootstrapLogging(env, label: "siphon.preflight")
        logger.logLevel = .critical
        let preflight = Preflight(env: env, agentConfigPath: config, redis: common.redis, sipHost: sipHost ?? env["SIPHON_PUBLIC_IP"] ?? HostAddress.primaryIPv4() ?? "127.0.0.1",
                                  vadSample: vadSample, rtpPorts: try WorkerCommand.portRange(rtpPorts), skip: Set(skip), logger: logger)
        let results = await preflight.run()
        results.report(json: json)
        if results.failed { throw ExitCode(1) }
    }
}
