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
        "please stay on the line", "who is calling and why", "say who", "say who's", "tell me who",
    ]
    public static let ivr = [
        "press one", "press two", "press three", "press four", "press five", "press six", "press seven", "press eight",
        "press nine", "press zero", "press star", "press pound", "press the pound", "for sales", "for support", "for billing",
        "for customer service", "menu options", "main menu", "party's extension", "extension", "for a directory", "dial it",
        "listen carefully", "para espanol", "para español", "our menu",
    ]
    /// What people say answering the phone and recordings do not: "who's calling?", "Mark
    /// speaking", "how can I help?". (A bare "hello" or "hi, this is Mark" starts many greetings.)
    public static let person = ["speaking", "who's calling", "who is calling", "who is this", "who's this", "can i help", "who is it"]
    /// How people start answering and recordings do not: "Yes?", "Yeah, this is Ann".
    public static let openers: Set<String> = ["yes", "yeah", "yep", "yup"]
    /// What people say picking up, alone: "Hello?", "Hi", "Yeah?". A greeting may open with one
    /// too ("Hello, this is Mark…") but goes on within a few hundred milliseconds.
    public static let answers: Set<String> = ["hello", "hi", "hey", "hiya", "yes", "yeah", "yep", "yup", "hallo", "hullo"]

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

    /// A person's phrase in `words`, and no recording's.
    public static func soundsLikeAPerson(_ words: String) -> Bool {
        guard !words.isEmpty, match(words) == nil else { return false }
        if startsAsAnAnswer(words) { return true }
        let padded = " " + words + " "
        return person.contains { padded.contains(" " + $0 + " ") }
    }

    /// Words that start as people answer ("yes", "yeah"), and no recording's phrase.
    public static func opensLikeAPerson(_ words: String) -> Bool { startsAsAnAnswer(words) && match(words) == nil }

    private static func startsAsAnAnswer(_ words: String) -> Bool {
        words.split(separator: " ").first.map { openers.contains(String($0)) } ?? false
    }

    /// Nothing but what people say picking up ("hello", "hello hello", "yeah"): at most three words.
    public static func isBareAnswer(_ words: String) -> Bool {
        let all = words.split(separator: " ")
        return !all.isEmpty && all.count <= 3 && all.allSatisfy { answers.contains(String($0)) }
    }
}
