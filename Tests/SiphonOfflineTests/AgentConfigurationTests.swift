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
            (Self.valid + "\n    amd: { on_machine: voicemail }", "agents[0].amd.on_machine: 'voicemail' is not one of hangup, leave_message"),
            (Self.valid + "\n    amd: { on_machine: leave_message }", "agents[0].amd: message is required"),
            (Self.valid + "\n    amd: { on_screener: announce, announcement: '' }", "announcement is required"),
            (Self.valid + "\n    amd: { greeting: long }", "agents[0].amd: 'greeting' must be a number"),
            (Self.valid + "\n    amd: { beep: 1 }", "agents[0].amd: unknown key 'beep'"),
            (Self.valid + "\n    amd: leave_message", "agents[0].amd: expected a mapping"),
            (Self.valid + "\n    turn: { endpointing: words }", "agents[0].turn.endpointing: 'words' is not one of semantic, silence"),
            (Self.valid + "\n    turn: { backchannels: klingon }", "agents[0].turn.backchannels: no built-in backchannels for 'klingon'"),
            (Self.valid + "\n    turn: { backchannels: [uh huh, can you say that again please] }", "backchannels are phrases of one to three words"),
            (Self.valid + "\n    turn: { backchannel_max_duration: 0.1 }", "backchannel_max_duration must be at least min_interruption"),
            (Self.valid + "\n    turn: { filler_delay: 60 }", "filler_delay must be 0 to 30 seconds"),
            (Self.valid + "\n    turn: { fillers: [''] }", "fillers must have a phrase"),
            (Self.valid + "\n    turn: { filler_sound: /nonexistent/chime.wav }", "agents[0].turn.filler_sound: /nonexistent/chime.wav"),
            (Self.valid + "\n    vad: { tone_guard: maybe }", "agents[0].vad.tone_guard"),
            ("agents: []", "at least one agent"),
            ("agent: []", "agent"),
            ("agents: [ {", "agent_config.yaml"),
        ]
        for (yaml, expected) in cases {
            let message = error(yaml)
            #expect(message?.contains(expected) == true, "expected an error naming '\(expected)', got \(message ?? "none")")
        }
    }

    @Test func answeringMachineDetectionIsReadFromTheAgent() throws {
        let yaml = Self.valid + "\n    amd: { on_machine: leave_message, message: Call us back, on_screener: announce, announcement: It's the clinic, after_greeting_silence: 0.9 }"
        let agent = try #require(try AgentConfiguration.parse(yaml).agents.first)
        let amd = try #require(agent.amd)
        #expect(amd.onMachine == .leaveMessage && amd.message == "Call us back" && amd.onScreener == .announce && amd.announcement == "It's the clinic")
        #expect(amd.afterGreetingSilence == 0.9 && amd.onIVR == .hangup && amd.enabled)
        #expect(try AgentConfiguration.parse(Self.valid).agents.first?.amd == nil)
    }

    @Test func turnTakingAndVADKnobsAreRead() throws {
        let yaml = Self.valid + "\n    turn: { endpointing: silence, backchannels: es, backchannel_max_duration: 0.7, filler_delay: 0, fillers: [Un momento.] }"
            + "\n    vad: { tone_guard: false, follow_noise_swells: false }"
        let agent = try #require(try AgentConfiguration.parse(yaml).agents.first)
        #expect(agent.turn.endpointing == .silence && agent.turn.backchannels.contains("vale") && agent.turn.backchannelMaxDuration == 0.7)
        #expect(agent.turn.fillerDelay == 0 && agent.turn.fillers == ["Un momento."])
        #expect(!agent.vad.toneGuard && !agent.vad.followNoiseSwells)
        let list = try #require(try AgentConfiguration.parse(Self.valid + "\n    turn: { backchannels: [uh huh, roger] }").agents.first)
        #expect(list.turn.backchannels == ["uh huh", "roger"])
        let off = try #require(try AgentConfiguration.parse(Self.valid + "\n    turn: { backchannels: [] }").agents.first)
        #expect(off.turn.backchannels.isEmpty)
        let defaults = try #require(try AgentConfiguration.parse(Self.valid).agents.first)
        #expect(defaults.turn.endpointing == .semantic && defaults.turn.backchannels.contains("uh huh") && defaults.vad.toneGuard)
    }

    @Test func phrasesOutsideTheDictionaryAreRefusedAtLoad() {
        let yaml = Self.valid.replacingOccurrences(of: "phrases: [yes please]", with: "phrases: [yes pleasezzz]")
        #expect(error(yaml)?.contains("pleasezzz") == true)
    }
}

/// Scalars resolve by the YAML 1.2 core schema: only what YAML calls an int, float, bool or null
/// becomes one (an unquoted URL was read as the base-60 number 0).
@Suite struct YAMLScalarTests {
    func value(_ scalar: String) throws -> ConfigValue {
        let root = try ConfigValue.parse(yaml: "v: \(scalar)\n", source: "test").map(allowed: ["v"])
        return try #require(root["v"])
    }

    @Test func urlsAndTimesStayText() throws {
        for text in ["http://127.0.0.1:8000/v1", "http://localhost:11434/v1", "10:30", "1:2:3", "190:20:30", "+15550200123x",
                     "yes", "no", "on", "off", "Yes", "0b101", "1_000", "12e", "0x", "2026-12-06", "=", "<<"] {
            #expect(try value(text).kind == .string(text), "\(text)")
        }
        // Quoted is always text, even when it looks like a number.
        #expect(try value("'42'").kind == .string("42"))
        #expect(try value("\"true\"").kind == .string("true"))
        #expect(try value("!!str 7").kind == .string("7"))
    }

    @Test func numbersBooleansAndNullsAreTheCoreSchemas() throws {
        let cases: [(String, ConfigValue.Kind)] = [
            ("0x1F", .number(31)), ("0o17", .number(15)), ("1e3", .number(1000)), ("-2.5", .number(-2.5)), (".5", .number(0.5)),
            ("12", .number(12)), ("+7", .number(7)), ("1.", .number(1)), ("true", .bool(true)), ("FALSE", .bool(false)),
            ("~", .null), ("null", .null), ("", .null), (".inf", .number(.infinity)),
        ]
        for (text, kind) in cases {
            let v = try value(text)
            #expect(v.kind == kind, "\(text): \(v)")
        }
        #expect(throws: SiphonError.self) { try value(".nan") }
    }

    @Test func textKeepsItsSpellingAndBooleanKeysReadYesAndNo() throws {
        #expect(try value("0015550200123").string() == "0015550200123")
        #expect(try value("1.10").string() == "1.10")
        #expect(try value("true").string() == "true")
        #expect(try value("yes").bool() == true)
        #expect(try value("off").bool() == false)
        #expect(throws: SiphonError.self) { try value("maybe").bool() }
        #expect(throws: SiphonError.self) { try value("http://h:1/v1").number() }
    }
}
