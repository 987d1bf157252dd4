/// Short acknowledgements a caller makes while the agent talks ("uh-huh", "mm-hmm", "yeah"): they
/// keep the agent going rather than take the turn. Built in for a few languages; agents may give
/// their own list (`turn.backchannels`).
public struct BackchannelLexicon: Sendable, Equatable {
    /// Normalised phrases (`normalise`): one to three tokens each.
    public let phrases: Set<String>

    public init(_ phrases: [String]) {
        self.phrases = Set(phrases.map(Self.normalise).filter { !$0.isEmpty })
    }

    public var isEmpty: Bool { phrases.isEmpty }

    /// Whether everything in `text` is acknowledgement: at most five tokens, covered by lexicon
    /// phrases ("yeah okay", "uh huh right"). Empty text is not.
    public func isBackchannel(_ text: String) -> Bool { covers(text, allowingOpenEnd: false) }

    /// `isBackchannel`, or an interim transcript on its way to one ("I" of "I see", "uh" of "uh huh").
    public func mayBeBackchannel(_ text: String) -> Bool { covers(text, allowingOpenEnd: true) }

    private func covers(_ text: String, allowingOpenEnd: Bool) -> Bool {
        let tokens = Self.normalise(text).split(separator: " ").map(String.init)
        guard !tokens.isEmpty, tokens.count <= 5, !phrases.isEmpty else { return false }
        var i = 0
        while i < tokens.count {
            var matched = 0
            for n in stride(from: min(3, tokens.count - i), through: 1, by: -1)
            where phrases.contains(tokens[i..<i + n].joined(separator: " ")) {
                matched = n
                break
            }
            if matched == 0, allowingOpenEnd {
                // The last tokens begin a phrase the recogniser has not finished.
                let rest = tokens[i...].joined(separator: " ") + " "
                return phrases.contains { $0.hasPrefix(rest) }
            }
            guard matched > 0 else { return false }
            i += matched
        }
        return true
    }

    /// Lower case, letters and digits only, hums spelled one way ("Uh-huh." → "uh huh", "Mmhmm" → "mm hmm").
    public static func normalise(_ text: String) -> String {
        var out = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber || ch == "'" { out.append(ch) } else { out.append(" ") }
        }
        let words = out.split(separator: " ").map { word -> String in
            switch word {
            case "uhhuh", "uhuh", "unhuh", "uhhum": "uh huh"
            case "mmhmm", "mhm", "mhmm", "mmhm": "mm hmm"
            case "hm", "hmm", "hmmm": "hmm"
            case "mmm", "mmmm": "mm"
            case "ok", "k", "okey": "okay"
            default: String(word)
            }
        }
        return words.joined(separator: " ")
    }

    public static let builtIn: [String: [String]] = [
        "en": ["uh huh", "mm hmm", "mm", "yeah", "yep", "yup", "yes", "okay", "right", "sure", "alright", "all right",
               "i see", "got it", "gotcha", "cool", "great", "exactly", "totally", "true", "oh", "ah", "wow", "really",
               "sounds good", "makes sense", "go on", "i know", "indeed", "fine", "perfect"],
        "es": ["sí", "si", "ajá", "aja", "vale", "claro", "ya", "bueno", "entiendo", "exacto", "de acuerdo", "mm", "mm hmm"],
        "fr": ["oui", "ouais", "d'accord", "ok", "okay", "voilà", "bien sûr", "je vois", "exactement", "ah", "mm", "mm hmm"],
        "de": ["ja", "jaja", "genau", "okay", "stimmt", "richtig", "klar", "alles klar", "verstehe", "aha", "mm", "mm hmm"],
    ]

    public static let english = BackchannelLexicon(builtIn["en"]!)
}
