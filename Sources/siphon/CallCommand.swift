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
            let job = try CallJob(agent: agent, to: PhoneNumber(to), from: from.map(PhoneNumber.init), transport: t, sim: sim,
                                  idempotencyKey: idempotencyKey, maxAttempts: maxAttempts)
            let client = try common.client(env, connections: 1, logger: logger)
            let queue = CallQueue(client: client, keys: common.keys)
            try await queue.ensureGroup()
            return try await queue.enqueue(job)
        }
        if json { printJSON(["id": result.id]) } else { print(result.id) }
    }
}
