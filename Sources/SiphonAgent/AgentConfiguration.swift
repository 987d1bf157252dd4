import Foundation
import SiphonAudio
import SiphonCore

/// `agent_config.yaml`: the agents a worker serves, declared without Swift code.
///
///     agents:
///       - name: Receptionist
///         instructions: You are a helpful dental receptionist.
///         greeting: Thanks for calling, how can I help?
///         stt: { provider: deepgram, model: nova-2 }
///         llm: { provider: openai, model: gpt-4o-mini, temperature: 0.6, context_window: 30 }
///         tts: { provider: cartesia, voice: … }
///         vad: { activation_threshold: 0.55 }
///         turn: { min_endpointing_delay: 0.3 }
///         tools: [ { name: check_slot, description: …, parameters: {…}, webhook: https://… } ]
///
/// Unknown keys anywhere are errors that name the key.
public struct AgentConfiguration: Sendable {
    public var agents: [AgentDefinition]

    public static func load(path: String) throws -> AgentConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SiphonError(.configuration, "cannot read \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    public static func parse(_ yaml: String, source: String = "agent_config.yaml") throws -> AgentConfiguration {
        let root = try ConfigValue.parse(yaml: yaml, source: source).map(allowed: ["agents"])
        let list = try root.require("agents").list()
        guard !list.isEmpty else { throw SiphonError(.configuration, "agents: at least one agent is required") }
        let agents = try list.map(AgentDefinition.init)
        var names = Set<String>()
        for a in agents where !names.insert(a.name).inserted {
            throw SiphonError(.configuration, "agents: the name '\(a.name)' is used twice")
        }
        return AgentConfiguration(agents: agents)
    }
}

/// One agent as declared in the file.
public struct AgentDefinition: Sendable {
    public var name: String
    public var instructions: String
    public var greeting: String?
    public var resumeLine: String?
    public var stt: ProviderConfiguration
    public var llm: ProviderConfiguration
    public var tts: ProviderConfiguration
    public var temperature: Double?
    public var contextWindow: Int
    public var vad: VADConfiguration
    public var turn: TurnConfiguration
    public var tools: [ToolDefinition]
    /// Answering-machine detection on this agent's outbound calls (`amd:`); nil: off.
    public var amd: AMDSettings?

    static let keys: Set<String> = ["name", "instructions", "greeting", "resume_line", "stt", "llm", "tts", "vad", "turn", "tools", "amd"]

    init(_ value: ConfigValue) throws {
        let m = try value.map(allowed: Self.keys)
        name = try m.require("name").string()
        do { try Identifier.validateAgentName(name) } catch let e as SiphonError {
            throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "name")): \(e.message)")
        }
        instructions = try m.string("instructions") ?? ""
        greeting = try m.string("greeting")
        resumeLine = try m.string("resume_line") ?? "Sorry about that, I'm back. Where were we?"
        stt = try ProviderConfiguration(m.require("stt"))
        llm = try ProviderConfiguration(m.require("llm"), extraKeys: ["temperature", "context_window"])
        tts = try ProviderConfiguration(m.require("tts"))
        temperature = try llm.options.number("temperature")
        if let t = temperature, !(0...2).contains(t) { throw SiphonError(.configuration, "\(ConfigValue.join(llm.path, "temperature")): must be between 0 and 2") }
        contextWindow = try llm.options.int("context_window") ?? 40
        guard (1...1000).contains(contextWindow) else { throw SiphonError(.configuration, "\(ConfigValue.join(llm.path, "context_window")): must be 1 to 1000 turns") }
        vad = try Self.vad(m["vad"])
        turn = try Self.turn(m["turn"])
        tools = try (m["tools"]?.list() ?? []).map(ToolDefinition.init)
        amd = try Self.amd(m["amd"])
    }

    /// The job's own decoder reads it (one set of rules), its messages put at the key's path in the file.
    static func amd(_ value: ConfigValue?) throws -> AMDSettings? {
        guard let value else { return nil }
        guard case .map = value.kind else { throw value.fail("expected a mapping") }
        do {
            return try JSONDecoder().decode(AMDSettings.self, from: Data(value.json().utf8))
        } catch let e as SiphonError {
            throw SiphonError(.configuration, value.path + e.message.dropFirst("amd".count))  // "amd.on_machine: …"
        } catch let e as DecodingError {
            throw SiphonError(.configuration, "\(value.path): \(e.readable)")  // "'greeting' must be a number"
        }
    }

    static func vad(_ value: ConfigValue?) throws -> VADConfiguration {
        var c = VADConfiguration()
        guard let value else { return c }
        let m = try value.map(allowed: Set(VADConfiguration.CodingKeys.allCases.map(\.rawValue)))
        c.activationThreshold = try m.number("activation_threshold") ?? c.activationThreshold
        c.deactivationThreshold = try m.number("deactivation_threshold") ?? min(c.deactivationThreshold, c.activationThreshold)
        c.minSpeechDuration = try m.number("min_speech_duration") ?? c.minSpeechDuration
        c.minSilenceDuration = try m.number("min_silence_duration") ?? c.minSilenceDuration
        c.prefixPadding = try m.number("prefix_padding") ?? c.prefixPadding
        c.energyFloorDB = try m.number("energy_floor_db") ?? c.energyFloorDB
        c.toneGuard = try m.bool("tone_guard") ?? c.toneGuard
        c.followNoiseSwells = try m.bool("follow_noise_swells") ?? c.followNoiseSwells
        if let problem = try c.validate().first { throw SiphonError(.configuration, "\(value.path): \(problem)") }
        return c
    }

    static func turn(_ value: ConfigValue?) throws -> TurnConfiguration {
        var t = TurnConfiguration()
        guard let value else { return t }
        let m = try value.map(allowed: Set(TurnConfiguration.CodingKeys.allCases.map(\.rawValue)))
        t.minEndpointingDelay = try m.number("min_endpointing_delay") ?? t.minEndpointingDelay
        t.maxEndpointingDelay = try m.number("max_endpointing_delay") ?? max(t.maxEndpointingDelay, t.minEndpointingDelay)
        t.minInterruption = try m.number("min_interruption") ?? t.minInterruption
        t.allowInterruptions = try m.bool("allow_interruptions") ?? t.allowInterruptions
        t.falseInterruptionTimeout = try m.number("false_interruption_timeout") ?? t.falseInterruptionTimeout
        t.silenceTimeout = try m.number("silence_timeout") ?? t.silenceTimeout
        t.maxCallDuration = try m.number("max_call_duration") ?? t.maxCallDuration
        if let e = try m.string("endpointing") {
            guard let mode = TurnConfiguration.Endpointing(rawValue: e) else {
                throw SiphonError(.configuration, "\(ConfigValue.join(value.path, "endpointing")): '\(e)' is not one of semantic, silence")
            }
            t.endpointing = mode
        }
        if let b = m["backchannels"], b.kind != .null {
            if case .list = b.kind {
                t.backchannels = try b.strings()
            } else {
                let language = try b.string()
                guard let words = BackchannelLexicon.builtIn[language] else {
                    throw SiphonError(.configuration, "\(b.path): no built-in backchannels for '\(language)' (\(BackchannelLexicon.builtIn.keys.sorted().joined(separator: ", ")), or a list)")
                }
                t.backchannels = words
            }
        }
        t.backchannelMaxDuration = try m.number("backchannel_max_duration") ?? max(t.backchannelMaxDuration, t.minInterruption)
        t.fillerDelay = try m.number("filler_delay") ?? t.fillerDelay
        t.fillers = try m.strings("fillers") ?? t.fillers
        if let path = try m.string("filler_sound") {
            do {
                t.fillerSound = try TurnConfiguration.FillerSound.load(path)
            } catch {
                let reason = (error as? SiphonError)?.message ?? "\(error)"
                throw SiphonError(.configuration, "\(ConfigValue.join(value.path, "filler_sound")): \(path): \(reason)")
            }
        }
        if let problem = t.validate().first { throw SiphonError(.configuration, "\(value.path): \(problem)") }
        return t
    }
}

/// `provider:` plus that provider's own options (checked by the provider's factory).
public struct ProviderConfiguration: Sendable {
    public var provider: String
    public var options: ConfigMap
    public var path: String

    init(_ value: ConfigValue, extraKeys: Set<String> = []) throws {
        guard case .map(let items) = value.kind else { throw value.fail("expected a mapping with a provider") }
        options = ConfigMap(path: value.path, items: items)
        path = value.path
        provider = try options.require("provider").string().lowercased()
        self.extraKeys = extraKeys
    }

    let extraKeys: Set<String>

    /// Checks the options against what the provider accepts.
    public func checked(_ allowed: Set<String>) throws -> ConfigMap {
        try ConfigValue(kind: .map(options.items), path: path).map(allowed: allowed.union(["provider"]).union(extraKeys))
    }
}

/// A user-defined tool declared in YAML: the model calls it, Siphon POSTs the arguments to the
/// webhook and hands the response body back to the model.
public struct ToolDefinition: Sendable {
    public var name: String
    public var description: String
    public var parameters: String
    public var webhook: URL
    public var timeout: Double

    init(_ value: ConfigValue) throws {
        let m = try value.map(allowed: ["name", "description", "parameters", "webhook", "timeout"])
        name = try m.require("name").string()
        guard name.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression) != nil else {
            throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "name")): letters, digits, _ and - only (at most 64)")
        }
        guard !BuiltinTools.all.map(\.name).contains(name) else {
            throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "name")): '\(name)' is a built-in tool")
        }
        description = try m.require("description").string()
        parameters = m["parameters"].map { $0.json() } ?? #"{"type":"object","properties":{}}"#
        let url = try m.require("webhook").string()
        guard let u = URL(string: url), u.scheme == "https" || u.scheme == "http", u.host != nil else {
            throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "webhook")): not an http(s) URL")
        }
        webhook = u
        timeout = try m.number("timeout") ?? 5
    }
}
