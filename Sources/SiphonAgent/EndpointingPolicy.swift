/// When the caller's turn is over, from how long they have been quiet and what they said.
///
/// `silence`: a final transcript and `min_endpointing_delay` of quiet, or `max_endpointing_delay`
/// with whatever was heard (counted from the VAD's end of speech). `semantic` reads the words
/// first: a turn that stops mid-thought — on "and", "for", "um", a trailing comma, a phone number
/// three digits in — waits the longer delay; a short complete answer ("yes", "no thanks") ends at
/// the shorter one from the interim transcript without waiting for the final; quiet is counted
/// from the last voiced frame (the VAD's own 100 ms hang-over is part of the delay, not added to it).
struct EndpointingPolicy {
    let turn: TurnConfiguration

    enum Shape: Equatable { case complete, incomplete, shortAnswer }

    struct Decision: Equatable {
        var text: String
        /// The turn ended on an interim transcript: its final, when it comes, is not a new turn.
        var fromInterim: Bool
    }

    /// `sinceSpeechEnd`: 20 ms frames since the VAD said speech ended, which it says `vadHangover`
    /// frames after the last voiced one.
    func decide(sinceSpeechEnd: Int, vadHangover: Int, finals: String, interim: String) -> Decision? {
        let finals = finals.trimmingCharacters(in: .whitespaces), interim = interim.trimmingCharacters(in: .whitespaces)
        let all = [finals, interim].filter { !$0.isEmpty }.joined(separator: " ")
        guard !all.isEmpty else { return nil }
        let minimum = Self.frames(turn.minEndpointingDelay), maximum = Self.frames(turn.maxEndpointingDelay)
        switch turn.endpointing {
        case .silence:
            let quiet = sinceSpeechEnd
            if !finals.isEmpty, quiet >= minimum { return Decision(text: finals, fromInterim: false) }
            if quiet >= maximum { return Decision(text: all, fromInterim: false) }
            return nil
        case .semantic:
            let quiet = sinceSpeechEnd + vadHangover  // from the last voiced frame
            switch Self.shape(all) {
            case .incomplete:
                return quiet >= maximum ? Decision(text: all, fromInterim: !interim.isEmpty) : nil
            case .shortAnswer where finals.isEmpty:
                return quiet >= minimum ? Decision(text: interim, fromInterim: true) : nil
            case .complete, .shortAnswer:
                // Words after the last final (an interim) are still being recognised: the final
                // alone would leave them out, so they get the longer wait.
                if !finals.isEmpty, interim.isEmpty, quiet >= minimum { return Decision(text: finals, fromInterim: false) }
                return quiet >= maximum ? Decision(text: all, fromInterim: !interim.isEmpty) : nil
            }
        }
    }

    static func frames(_ seconds: Double) -> Int { max(1, Int((seconds * 50).rounded())) }

    // MARK: reading the words (English)

    /// Words a finished sentence does not end on.
    static let dangling: Set<String> = [
        "and", "or", "but", "so", "because", "cause", "to", "for", "with", "the", "a", "an", "of", "from", "at", "in",
        "on", "about", "my", "your", "our", "their", "his", "her", "its", "than", "if", "then", "that", "which", "whose",
        "when", "while", "until", "into", "by", "i", "i'm", "we're", "it's", "um", "uh", "er", "erm", "uhm", "hmm", "like",
        "is", "are", "was", "were", "am", "be", "also", "plus", "maybe", "either", "between",
    ]

    /// Complete answers of a word or three.
    static let answers = BackchannelLexicon([
        "yes", "yeah", "yep", "yup", "no", "nope", "nah", "sure", "okay", "right", "correct", "exactly", "absolutely",
        "definitely", "of course", "that's right", "that's correct", "sounds good", "perfect", "great", "fine",
        "thanks", "thank you", "bye", "goodbye", "hello", "hi", "please", "not really", "no thanks", "yes please",
        "i do", "i don't", "i am", "i'm not", "it is", "it isn't", "that's it", "that's all", "all good", "good",
    ])

    static let numberWords: [String: Int] = [
        "zero": 1, "oh": 1, "o": 1, "one": 1, "two": 1, "three": 1, "four": 1, "five": 1, "six": 1, "seven": 1, "eight": 1,
        "nine": 1, "double": 0, "triple": 0,
    ]

    static func shape(_ text: String) -> Shape {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix(",") || trimmed.hasSuffix("…") || trimmed.hasSuffix("...") || trimmed.hasSuffix("-") { return .incomplete }
        let tokens = BackchannelLexicon.normalise(trimmed).split(separator: " ").map(String.init)
        guard let last = tokens.last else { return .complete }
        if let digits = trailingDigits(tokens), digits >= 3, digits < 10 || (digits > 11 && digits < 15) { return .incomplete }
        if dangling.contains(last) { return .incomplete }
        if tokens.count <= 3, answers.isBackchannel(trimmed) { return .shortAnswer }
        return .complete
    }

    /// Digits in the number being read at the end of the words ("five five five one two" → 5,
    /// "555 12" → 5), nil when the words do not end on one.
    static func trailingDigits(_ tokens: [String]) -> Int? {
        var count = 0
        var any = false
        for t in tokens.reversed() {
            if t.allSatisfy(\.isNumber) {
                count += t.count
            } else if let n = numberWords[t] {
                count += n
            } else {
                break
            }
            any = true
        }
        return any && count > 0 ? count : nil
    }
}
