import SiphonAgent
import SiphonCore

/// The offline providers: `pocketsphinx` (STT), `scripted` (dialogue policy), `espeak` (TTS).
public enum OfflineEngines {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.stt["pocketsphinx"] = { p, _ in
            let m = try p.checked(["phrases"])
            return try PocketSphinxSTT(phrases: m.strings("phrases") ?? [])
        }
        r.tts["espeak"] = { p, _ in
            let m = try p.checked(["voice", "rate", "pitch"])
            return try EspeakTTS(voice: m.string("voice") ?? "en-us", wordsPerMinute: m.int("rate") ?? 165, pitch: m.int("pitch") ?? 50)
        }
        r.llm["scripted"] = { p, _ in try scripted(p) }
        return r
    }

    static func scripted(_ p: ProviderConfiguration) throws -> ScriptedLLM {
        let m = try p.checked(["slots", "intents", "fallback"])
        var slots: [String: [String]] = [:]
        if let s = m["slots"] {
            guard case .map(let items) = s.kind else { throw SiphonError(.configuration, "\(s.path): expected a mapping of slot names to values") }
            let sm = try s.map(allowed: Set(items.map(\.0)))  // slot names are the user's
            for k in sm.keys { slots[k] = try sm.require(k).strings() }
        }
        let intents = try m.require("intents").list().map { v -> ScriptedLLM.Intent in
            let i = try v.map(allowed: ["name", "when", "when_slot", "requires", "reply", "tool"])
            let intent = ScriptedLLM.Intent(
                name: try i.require("name").string(), when: try i.strings("when") ?? [], whenSlot: try i.string("when_slot"),
                requires: try i.strings("requires") ?? [], reply: try i.require("reply").string(), tool: try i.string("tool"))
            if let s = intent.whenSlot, slots[s] == nil { throw SiphonError(.configuration, "\(ConfigValue.join(i.path, "when_slot")): no slot '\(s)'") }
            for r in intent.requires where slots[r] == nil { throw SiphonError(.configuration, "\(ConfigValue.join(i.path, "requires")): no slot '\(r)'") }
            if let t = intent.tool, !BuiltinTools.all.map(\.name).contains(t) {
                throw SiphonError(.configuration, "\(ConfigValue.join(i.path, "tool")): '\(t)' is not a built-in tool")
            }
            if intent.when.isEmpty && intent.whenSlot == nil { throw SiphonError(.configuration, "\(i.path): needs 'when' or 'when_slot'") }
            return intent
        }
        return ScriptedLLM(slots: slots, intents: intents, fallback: try m.string("fallback") ?? "Sorry, could you say that again?")
    }
}
