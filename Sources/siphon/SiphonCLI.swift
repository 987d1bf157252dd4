import ArgumentParser

@main
struct SiphonCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siphon",
        abstract: "Self-hosted runtime for AI phone agents.",
        version: "0.1.0",
        subcommands: [
            DispatcherCommand.self, WorkerCommand.self, SupervisorCommand.self,
            CallCommand.self, SessionsCommand.self, WorkersCommand.self, DeadLettersCommand.self,
            BenchCommand.self, VADCommand.self, AMDCommand.self, CallerCommand.self, SIPCommand.self, LiveKitCommand.self, LLMCommand.self, TTSCommand.self, STTCommand.self, ProvidersCommand.self, DemoCommand.self, HealthcheckCommand.self, ConfigCommand.self, PreflightCommand.self,
        ])
}
