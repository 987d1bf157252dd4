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
            let i = try v.map(allowed: ["name", "when", "when_slot", "requires", "reply", "tool", "arguments"])
            var intent = ScriptedLLM.Intent(
                name: try i.require("name").string(), when: try i.strings("when") ?? [], whenSlot: try i.string("when_slot"),
                requires: try i.strings("requires") ?? [], reply: try i.require("reply").string(), tool: try i.string("tool"))
            if let arguments = i["arguments"] {
                guard case .map = arguments.kind else { throw SiphonError(.configuration, "\(arguments.path): expected a mapping (the tool's arguments)") }
                intent.arguments = arguments.json()
            }
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

    /// The offline receptionist (what a worker without --config serves; kept identical to examples/agent_config.yaml's, which a test checks).
    public static let defaultConfiguration = """
        agents:
          - name: offline-receptionist
            instructions: Book dental appointments.
            greeting: Thank you for calling Bright Smile Dental. This is the automated receptionist. How can I help you today?
            resume_line: Sorry about that, I'm back.
            stt:
              provider: pocketsphinx
              phrases:
                - I would like to book a cleaning
                - I would like to book an appointment
                - Tuesday please
                - Thursday please
                - In the morning
                - In the afternoon
                - What are your opening hours
                - Yes please
                - No that is all thank you
                - Goodbye
            llm:
              provider: scripted
              slots:
                day: [Tuesday, Thursday]
                period: [morning, afternoon]
              intents:
                - name: book
                  when: [book, appointment, cleaning]
                  reply: Of course. We have openings on Tuesday and on Thursday this week. Which day would suit you best?
                - name: day
                  when_slot: day
                  reply: "{day} works. Would you prefer the morning or the afternoon?"
                - name: time
                  when_slot: period
                  requires: [day]
                  reply: "You are booked for {day} {period} at ten. Is there anything else I can help you with?"
                - name: hours
                  when: [hours, open]
                  reply: We are open from nine to five, Monday to Friday.
                - name: goodbye
                  when: ["no", that is all, goodbye]
                  reply: Thank you for calling Bright Smile Dental. Goodbye!
                  tool: end_call
              fallback: Sorry, I didn't catch that. Could you say it again?
            tts:
              provider: espeak
              voice: en-us
              rate: 165
            turn:
              min_endpointing_delay: 0.3
              max_endpointing_delay: 1.0
              min_interruption: 0.3
              silence_timeout: 20
        """
}
