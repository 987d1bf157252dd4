import Foundation
import Testing
import Yams
import SiphonAgent
import SiphonCore
import SiphonOffline

/// `agent_config.yaml`: the shipped example, and errors that name the key at fault.
@Suite struct AgentConfigurationTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/agent_config.yaml").path

    /// The error message for `yaml`, or nil when it parses and builds.
    func error(_ yaml: String) -> String? {
        do {
            let config = try AgentConfiguration.parse(yaml)
            for a in config.agents { _ = try OfflineEngines.registry.makeAgent(a, environment: Environment([:])) }
            return nil
        } catch let e as SiphonError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    static let valid = """
        agents:
          - name: a
            instructions: x
            stt: { provider: pocketsphinx, phrases: [yes please] }
            llm: { provider: scripted, intents: [ { name: confirm, when: ["yes"], reply: Good. } ] }
            tts: { provider: espeak }
        """

    @Test func theBuiltInAgentIsTheExamplesOfflineReceptionist() throws {
        let example = try Yams.load(yaml: String(contentsOfFile: Self.example, encoding: .utf8)) as? [String: Any]
        let builtIn = try Yams.load(yaml: OfflineEngines.defaultConfiguration) as? [String: Any]
        let fromExample = (example?["agents"] as? [[String: Any]])?.first { $0["name"] as? String == "offline-receptionist" }
        let fromBuiltIn = (builtIn?["agents"] as? [[String: Any]])?.first
        #expect(fromExample != nil && fromBuiltIn != nil)
        #expect(NSDictionary(dictionary: fromExample ?? [:]).isEqual(to: fromBuiltIn ?? [:]), "examples/agent_config.yaml and OfflineEngines.defaultConfiguration differ")
        // The whole example is well-formed (the cloud providers' plugins are checked where they are registered).
        let config = try AgentConfiguration.load(path: Self.example)
        #expect(config.agents.map(\.name) == ["Receptionist", "offline-receptionist"])
        #expect(try OfflineEngines.registry.makeAgent(config.agents[1], environment: Environment([:])).name == "offline-receptionist")
    }

    @Test func aValidConfigurationBuilds() {
        #expect(error(Self.valid) == nil)
    }

    @Test func mistakesAreNamedByTheirPath() {
        let cases: [(String, String)] = [
            (Self.valid.replacingOccurrences(of: "tts: { provider: espeak }", with: "tts: { provider: espeak, rte: 160 }"), "agents[0].tts.rte"),
            (Self.valid.replacingOccurrences(of: "instructions: x", with: "instructions: x\n    temprature: 0.5"), "agents[0].temprature"),
            (Self.valid + "\n    turn: { min_interruption: soon }", "agents[0].turn.min_interruption"),
            (Self.valid + "\n    vad: { activation_threshold: 1.7 }", "activation_threshold"),
            (Self.valid.replacingOccurrences(of: "provider: espeak", with: "provider: polly"), "polly"),
            (Self.valid.replacingOccurrences(of: "stt: { provider: pocketsphinx, phrases: [yes please] }", with: "stt: pocketsphinx"), "agents[0].stt"),
            (Self.valid + "\n    tools: [ { name: lookup, description: d, webhook: ftp://x } ]", "agents[0].tools[0].webhook"),
            (Self.valid + "\n    tools: [ { name: end_call, description: d, webhook: https://x.test } ]", "built-in"),
            (Self.valid + "\n" + Self.valid.replacingOccurrences(of: "agents:\n", with: ""), "used twice"),
            ("agents: []", "at least one agent"),
            ("agent: []", "agent"),
            ("agents: [ {", "agent_config.yaml"),
        ]
        for (yaml, expected) in cases {
            let message = error(yaml)
            #expect(message?.contains(expected) == true, "expected an error naming '\(expected)', got \(message ?? "none")")
        }
    }

    @Test func phrasesOutsideTheDictionaryAreRefusedAtLoad() {
        let yaml = Self.valid.replacingOccurrences(of: "phrases: [yes please]", with: "phrases: [yes pleasezzz]")
        #expect(error(yaml)?.contains("pleasezzz") == true)
    }
}
