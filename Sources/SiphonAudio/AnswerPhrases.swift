/// What the far end's first words say about it: phrases of voicemail greetings, call screeners
/// (Pixel Call Screen, iPhone screening, carriers' "state your name") and IVR menus, and the short
/// answers people give. Matched on whole words of normalized text, so a recogniser's partial
/// transcript can decide as soon as the phrase is complete.
public enum AnswerPhrases {
    public static let machine = [
        "leave a message", "leave me a message", "leave your name", "leave your message", "leave a brief message",
        "after the tone", "after the beep", "at the tone", "at the beep", "record your message", "not available",
        "unavailable", "can't take your call", "cannot take your call", "can't come to the phone", "can't get to the phone",
        "you've reached", "you have reached", "voice message", "voicemail", "voice mail", "mailbox", "not home",
        "get back to you", "call you back", "return your call", "missed your call", "sorry i missed", "away from my phone",
        "automatic voice", "forwarded to",
    ]
    public static let screener = [
        "screening", "say your name", "state your name", "reason for your call", "why you're calling", "why you are calling",
        "see if this person is available", "see if they're available", "copy of this conversation", "record your name",
        "please stay on the line", "who is calling and why",
    ]
    public static let ivr = [
        "press one", "press two", "press three", "press four", "press five", "press six", "press seven", "press eight",
        "press nine", "press zero", "press star", "press pound", "press the pound", "for sales", "for support", "for billing",
        "for customer service", "menu options", "main menu", "party's extension", "extension", "for a directory", "dial it",
        "listen carefully", "para espanol", "para español", "our menu",
    ]
    /// Words people answer the phone with that a recording rarely ends a short segment on.
    static let personCues = ["hello", "hi", "hey", "yes", "yeah", "yep", "speaking", "who's calling", "who is calling",
                             "who is this", "who's this", "can i help", "what", "who is it"]
    /// Cues that mark a person even in a longer answer.
    static let strongPersonCues = ["speaking", "who's calling", "who is calling", "who is this", "who's this", "can i help"]

    /// Lower case, letters, digits and apostrophes, single spaces.
    public static func normalize(_ text: String) -> String {
        let kept = text.lowercased().map { c -> Character in c.isLetter || c.isNumber || c == "'" ? c : " " }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    /// The first class whose phrase occurs in `words` (normalized), with the phrase. IVR and
    /// screener phrases are checked before the voicemail ones ("the person you're calling is not
    /// available" is voicemail, "… is screening their calls" is not).
    public static func match(_ words: String) -> (AnswerClassifier.Kind, String)? {
        guard !words.isEmpty else { return nil }
        let padded = " " + words + " "
        for (kind, phrases) in [(AnswerClassifier.Kind.ivr, ivr), (.screener, screener), (.machine, machine)] {
            if let p = phrases.first(where: { padded.contains(" " + $0 + " ") }) { return (kind, p) }
        }
        return nil
    }

    /// A short answer with a person's word in it ("hello?", "yes", "hi, who's calling?"), or any
    /// answer with a strong cue ("Mark speaking", "how can I help?") — and no recording's phrase.
    public static func soundsLikeAPerson(_ words: String) -> Bool {
        guard !words.isEmpty, match(words) == nil else { return false }
        let padded = " " + words + " "
        if strongPersonCues.contains(where: { padded.contains(" " + $0 + " ") }) { return true }
        return words.split(separator: " ").count <= 3 && personCues.contains { padded.contains(" " + $0 + " ") }
    }
}
