import ArgumentParser
import SiphonCluster
import SiphonCore

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Enqueue a call directly through Redis and print its id.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Number to call (E.164).") var to: String
    @Option(help: "Caller number (E.164).") var from: String?
    @Option(help: "Agent that handles the call.") var agent: String
    @Option(help: "sim, sip or livekit.") var transport: String = "sip"
    @Option(help: "sim: number of synthetic turns.") var simTurns: Int?
    @Option(help: "sim: milliseconds between turns.") var simIntervalMs: Int?
    @Option(help: "A repeated key returns the first call instead of enqueuing again.") var idempotencyKey: String?
    @Option(help: "Workers that may own the call in total (claim plus reassignments).") var maxAttempts: Int = CallJob.defaultMaxAttempts
    @Option(help: "sip: the trunk's host[:port] (an inline trunk; default: the workers' SIP_TRUNK_ADDRESS).") var trunkAddress: String?
    @Option(help: "sip: udp, tcp or tls.") var trunkTransport: String = "udp"
    @Option(help: "sip: digest username for the trunk.") var trunkUsername: String?
    @Option(help: "sip: digest password (sealed with SIPHON_SECRET_KEY before it is queued). Prefer --trunk-password-env.") var trunkPassword: String?
    @Option(help: "sip: name of an environment variable holding the trunk password.") var trunkPasswordEnv: String?
    @Option(help: "sip: a trunk configured on the workers, by name.") var trunkName: String?
    @Option(help: "Seconds to ring before giving up.") var ringTimeout: Int?
    @Option(help: "Seconds after which the agent ends the call.") var maxDuration: Int?
    @Option(help: "Answering-machine detection: what to do on a machine — hangup or leave_message (replaces the agent's amd:).") var amd: String?
    @Option(help: "With --amd leave_message: the message, spoken after the beep.") var amdMessage: String?
    @Option(help: "With --amd: what to say to a call screener (then wait for the person); without it, hang up on screeners.") var amdAnnouncement: String?
    @Flag(help: "With --amd: navigate phone menus (the model may press keys) instead of hanging up.") var amdNavigate = false
    @Flag(help: "Print {\"id\": …} as JSON.") var json = false

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.call")
        let result = try await reporting {
            guard let t = Transport(rawValue: transport) else { throw SiphonError.invalid("transport must be sim, sip or livekit") }
            var sim: SimSpec?
            if t == .sim {
                sim = SimSpec(turns: simTurns ?? 4, intervalMs: simIntervalMs ?? 200)
            } else if simTurns != nil || simIntervalMs != nil {
                throw SiphonError.invalid("--sim-turns and --sim-interval-ms need --transport sim")
            }
            var trunk: TrunkSpec?
            if trunkAddress != nil || trunkName != nil {
                guard t != .sim else { throw SiphonError.invalid("--trunk-* options need --transport sip or livekit") }
                let password = trunkPassword ?? trunkPasswordEnv.flatMap { env[$0] }
                if trunkPasswordEnv != nil, password == nil { throw SiphonError(.configuration, "\(trunkPasswordEnv!) is not set") }
                trunk = TrunkSpec(name: trunkName, address: trunkAddress, transport: trunkTransport, number: try from.map(PhoneNumber.init),
                                  username: trunkUsername, password: password)
            }
            let job = try CallJob(agent: agent, to: PhoneNumber(to), from: from.map(PhoneNumber.init), transport: t, sim: sim,
                                  idempotencyKey: idempotencyKey, maxAttempts: maxAttempts, trunk: trunk, ringTimeout: ringTimeout,
                                  maxDuration: maxDuration, amd: try answerDetection())
            let client = try common.client(env, connections: 1, logger: logger)
            var queue = CallQueue(client: client, keys: common.keys)
            queue.secretBox = try SecretBox.from(env)
            try await queue.ensureGroup()
            return try await queue.enqueue(job)
        }
        if json { printJSON(["id": result.id]) } else { print(result.id) }
    }

    /// `--amd ACTION` and its companions as the job's `amd`.
    func answerDetection() throws -> AMDSettings? {
        guard let amd else {
            if amdMessage != nil || amdAnnouncement != nil || amdNavigate { throw SiphonError.invalid("--amd-message, --amd-announcement and --amd-navigate need --amd") }
            return nil
        }
        var s = AMDSettings()
        guard let action = AMDSettings.MachineAction(rawValue: amd) else { throw SiphonError.invalid("--amd must be hangup or leave_message") }
        s.onMachine = action
        s.message = amdMessage
        if let amdAnnouncement { (s.onScreener, s.announcement) = (.announce, amdAnnouncement) }
        if amdNavigate { s.onIVR = .navigate }
        if let problem = s.validate().first { throw SiphonError.invalid("--amd: \(problem)") }
        return s
    }
}
