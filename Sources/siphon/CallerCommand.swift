import ArgumentParser
import Foundation
import SiphonCore
import Logging
import SiphonOffline
import SiphonTelephony

/// A SIP phone that answers one call and talks with eSpeak NG: the far end for `make demo`
/// and for trying an agent without a carrier.
struct CallerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caller",
        abstract: "Answer one SIP call on loopback and say scripted lines to the agent (demo and testing).",
        discussion: """
            Each --line is said after the agent pauses; a line written '@2.5 text' is said 2.5 s into
            the agent's turn instead, talking over it (barge-in). Exits when the call ends.
            """)

    @Option(help: "UDP port to listen on (0 picks one; the port is printed as 'listening on <port>').") var port: Int = 0
    @Option(name: .customLong("line"), help: "A line to say, in order (repeatable).") var lines: [String] = []
    @Option(help: "Write the call, both sides in stereo, to this WAV file.") var record: String?
    @Option(help: "eSpeak NG voice of the caller.") var voice: String = "en-us+f3"
    @Option(help: "Give up if no call arrives within this many seconds.") var waitSeconds: Double = 60

    func run() async throws {
        var logger = Logger(label: "siphon.caller")
        logger.logLevel = .warning
        let script = try lines.map(Self.parse)
        let tts = try EspeakTTS(voice: voice, wordsPerMinute: 165, sampleRate: 16000)
        let caller = try await SimulatedCaller.start(lines: script, voice: tts, recording: record, port: port, logger: logger)
        // Unbuffered: scripts wait for this line.
        StandardStream.output.write("listening on \(caller.port)\n")
        let receiving = Task { await caller.run() }
        let outcome = await withTaskGroup(of: String?.self) { group in
            group.addTask { await caller.finished() }
            group.addTask {
                try? await Task.sleep(for: .seconds(waitSeconds))
                return caller.answered ? nil : "no call within \(waitSeconds) s"
            }
            for await result in group {
                if let result { group.cancelAll(); return result }
            }
            return "stopped"
        }
        receiving.cancel()
        await caller.stop()
        print("call ended: \(outcome)")
    }

    static func parse(_ text: String) throws -> SimulatedCaller.Line {
        guard text.hasPrefix("@") else { return .init(text) }
        let parts = text.dropFirst().split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let seconds = Double(parts[0]), seconds >= 0 else {
            throw ValidationError("--line '\(text)': an interrupting line is '@<seconds> <text>'")
        }
        return .init(String(parts[1]), interruptAfter: seconds)
    }
}
