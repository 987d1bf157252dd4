import ArgumentParser
import SiphonCore

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Configuration tools.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the environment (.env) and the agent configuration; name what is missing or wrong.",
            discussion: "Connects to nothing (see `siphon preflight` for that). Exit status 1 if anything failed.")

        @Option(help: "The .env file to check (the process environment is merged over it).") var envFile: String = ".env"
        @Option(help: "Agent configuration (default: $SIPHON_AGENT_CONFIG, else the built-in agent).") var config: String?
        @Option(help: "Check for one role: all, dispatcher, worker, supervisor.") var role: String = "all"
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            guard let r = ConfigurationCheck.Role(rawValue: role) else { throw ValidationError("--role must be all, dispatcher, worker or supervisor") }
            let env = try await reporting { try Environment.load(dotenvPath: envFile.isEmpty ? nil : envFile) }
            let results = ConfigurationCheck(env: env, role: r, agentConfigPath: config).run()
            results.report(json: json)
            if results.failed { throw ExitCode(1) }
        }
    }
}
