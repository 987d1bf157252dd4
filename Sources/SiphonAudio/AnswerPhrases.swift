import Foundation

/// What the far end's first words say about it: phrases of voicemail greetings, call screeners
/// (Pixel Call Screen, iPhone screening, carriers' "state your name") and IVR menus, and the short
/// answers people give — in English, Spanish, French and German, all at once (a phrase of one
/// language does not occur in another's greeting, and a US number may answer in Spanish).
/// Matched on whole words of normalized text (lower case, accents folded: recognisers differ in
/// whether they write them), so a recogniser's partial transcript can decide as soon as the
/// phrase is complete.
public enum AnswerPhrases {
    public static let machine = normalized([
        "leave a message", "leave me a message", "leave your name", "leave your message", "leave a brief message",
        "after the tone", "after the beep", "at the tone", "at the beep", "record your message", "not available",
        "unavailable", "can't take your call", "cannot take your call", "can't come to the phone", "can't get to the phone",
        "you've reached", "you have reached", "voice message", "voicemail", "voice mail", "mailbox", "not home",
        "get back to you", "call you back", "return your call", "missed your call", "sorry i missed", "away from my phone",
        "automatic voice", "forwarded to",
        // Spanish
        "deje su mensaje", "deje un mensaje", "deja tu mensaje", "deja un mensaje", "dejar un mensaje", "grabe su mensaje",
        "después del tono", "después de la señal", "al oír la señal", "no está disponible", "no se encuentra disponible",
        "buzón de voz", "ha llamado a", "has llamado a", "no puedo contestar", "no puedo atender", "no podemos atender",
        "le devolveré la llamada", "te devolveré la llamada", "le devolveremos la llamada",
        // French
        "laissez un message", "laissez votre message", "laissez-moi un message", "laisser un message", "après le bip",
        "après le signal sonore", "n'est pas disponible", "indisponible", "messagerie vocale", "vous êtes bien sur",
        "répondeur", "je vous rappellerai", "je vous rappelle dès que",
        // German
        "hinterlassen sie", "hinterlasse eine nachricht", "nach dem signalton", "nach dem piepton", "nach dem ton",
        "nicht erreichbar", "nicht zu erreichen", "anrufbeantworter", "sprachbox", "rufe zurück", "rufe sie zurück",
        "rufen sie zurück", "rufen dich zurück",
    ])
    public static let screener = normalized([
        "screening", "say your name", "state your name", "reason for your call", "why you're calling", "why you are calling",
        "see if this person is available", "see if they're available", "copy of this conversation", "record your name",
        "please stay on the line", "who is calling and why", "say who", "say who's", "tell me who",
        "filtrando", "diga su nombre", "indique su nombre", "motivo de su llamada", "quién llama y por qué",
        "dites votre nom", "indiquez votre nom", "l'objet de votre appel", "la raison de votre appel",
        "nennen sie ihren namen", "sagen sie ihren namen", "grund ihres anrufs",
    ])
    public static let ivr = normalized([
        "press one", "press two", "press three", "press four", "press five", "press six", "press seven", "press eight",
        "press nine", "press zero", "press star", "press pound", "press the pound", "for sales", "for support", "for billing",
        "for customer service", "menu options", "main menu", "party's extension", "extension", "for a directory", "dial it",
        "listen carefully", "para español", "our menu",
        "escuche con atención", "para ventas", "menú principal", "opciones del menú", "para inglés", "for english",
        "pour le service client", "appuyez sur", "für deutsch", "hauptmenü",
        // "extension", "listen carefully", "our menu" as French and German menus say them
        "numéro de poste", "écoutez attentivement", "notre menu", "durchwahl", "hören sie genau zu", "unser menü",
    ] + keyed(["marque", "marque el", "oprima", "oprima el", "presione", "presione el", "pulse", "pulse el"],
              ["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "cero"])
      + keyed(["tapez", "tapez le", "appuyez sur le"], ["un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "zéro", "étoile"])
      + keyed(["drücken sie", "drücken sie die", "wählen sie die"], ["eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "null"]))
    /// What people say answering the phone and recordings do not: "who's calling?", "Mark
    /// speaking", "how can I help?". (A bare "hello" or "hi, this is Mark" starts many greetings.)
    public static let person = normalized([
        "speaking", "who's calling", "who is calling", "who is this", "who's this", "can i help", "may i help", "who is it",
        "what can i do for you",
        "quién habla", "de parte de quién", "con quién hablo", "le puedo ayudar", "dígame",
        "à l'appareil", "de la part de qui", "qui est-ce", "j'écoute", "je peux vous aider", "puis-je vous aider",
        "wer ist da", "wer spricht", "am apparat", "was kann ich für sie tun", "kann ich ihnen helfen", "wie kann ich helfen",
        // The time of day: said live, not recorded to be played at any hour.
        "good morning", "good afternoon", "good evening", "buenos días", "buenas tardes", "buenas noches", "bonsoir",
        "guten morgen", "guten abend",
    ])
    /// How a business answers, a receptionist and a recording alike ("Thank you for calling Acme.",
    /// "Welcome to First National Bank."): a recording pauses after it before its menu or message
    /// goes on, for longer than a person waits after a hello.
    public static let businessOpenings = normalized([
        "thank you for calling", "thanks for calling", "welcome to",
        "gracias por llamar", "gracias por comunicarse", "bienvenido a", "bienvenida a", "bienvenidos a",
        "merci de votre appel", "merci d'avoir appelé", "bienvenue",
        "vielen dank für ihren anruf", "danke für ihren anruf", "willkommen bei", "herzlich willkommen",
    ])
    /// How people start answering and recordings do not: "Yes?", "Yeah, this is Ann", "Oui,
    /// bonjour ?", "Ja, bitte?". (Not "sí": a recogniser without accents writes it "si", which
    /// starts many Spanish greetings — "if".)
    public static let openers: Set<String> = ["yes", "yeah", "yep", "yup", "oui", "ja"]
    /// What people say picking up, alone: "Hello?", "Hi", "Yeah?", "¿Bueno?", "Allô ?". A
    /// greeting may open with one too ("Hello, this is Mark…") but goes on within a few hundred
    /// milliseconds.
    public static let answers = Set(normalized([
        "hello", "hi", "hey", "hiya", "yes", "yeah", "yep", "yup", "hallo", "hullo",
        "hola", "bueno", "diga", "dígame", "aló", "sí", "allô", "oui", "ja",
    ]))

    /// Lower case, accents folded, letters, digits and apostrophes, single spaces.
    public static func normalize(_ text: String) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
        let kept = folded.lowercased().map { c -> Character in
            c.isLetter || c.isNumber || c == "'" ? c : c == "\u{2019}" ? "'" : " "
        }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    private static func normalized(_ phrases: [String]) -> [String] { phrases.map(normalize) }

    /// "press" × "one", "two", …: a menu's key prompts.
    private static func keyed(_ verbs: [String], _ keys: [String]) -> [String] {
        verbs.flatMap { verb in keys.map { verb + " " + $0 } }
    }

    /// Recordings' phrases a person may say too — a voicemail's ("I'm not available tomorrow",
    /// "I'll call you back"), a screener's ("who's calling and why?"), a menu's ("I'll put you
    /// through to his extension"): not enough, once a person was decided, to take it back.
    public static let peopleSayToo = Set(normalized([
        "not available", "unavailable", "not home", "get back to you", "call you back", "return your call", "missed your call",
        "sorry i missed", "away from my phone",
        "reason for your call", "why you're calling", "why you are calling", "who is calling and why", "say who", "say who's",
        "tell me who", "please stay on the line", "extension", "for sales", "for support", "for billing", "for customer service",
        "dial it", "motivo de su llamada", "quién llama y por qué", "para ventas", "l'objet de votre appel", "la raison de votre appel",
        "grund ihres anrufs", "durchwahl", "numéro de poste",
        "no está disponible", "no se encuentra disponible", "no puedo contestar", "no puedo atender", "no podemos atender",
        "le devolveré la llamada", "te devolveré la llamada", "le devolveremos la llamada",
        "n'est pas disponible", "indisponible", "je vous rappellerai", "je vous rappelle dès que",
        "nicht erreichbar", "nicht zu erreichen", "rufe zurück", "rufe sie zurück", "rufen sie zurück", "rufen dich zurück",
    ]))

    /// A phrase in `words` that only a recording says (a menu's, a screener's, a voicemail's but
    /// `peopleSayToo`), with its class.
    public static func recordingPhrase(_ words: String) -> (AnswerClassifier.Kind, String)? {
        guard !words.isEmpty else { return nil }
        let padded = " " + words + " "
        for (kind, phrases) in [(AnswerClassifier.Kind.ivr, ivr), (.screener, screener), (.machine, machine)] {
            if let p = phrases.first(where: { !peopleSayToo.contains($0) && padded.contains(" " + $0 + " ") }) { return (kind, p) }
        }
        return nil
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
        return startsAsAnAnswer(words) || personPhrase(words) != nil
    }

    /// The first of `person`'s phrases in `words`, when no recording's phrase is there too.
    public static func personPhrase(_ words: String) -> String? {
        guard !words.isEmpty, match(words) == nil else { return nil }
        let padded = " " + words + " "
        return person.first { padded.contains(" " + $0 + " ") }
    }

    /// Words that start as people answer ("yes", "yeah"), and no recording's phrase.
    public static func opensLikeAPerson(_ words: String) -> Bool { startsAsAnAnswer(words) && match(words) == nil }

    private static func startsAsAnAnswer(_ words: String) -> Bool {
        words.split(separator: " ").first.map { openers.contains(String($0)) } ?? false
    }

    /// A business's opening in `words`, and no person's phrase after it ("… this is Ann, how may I
    /// help you?" is a receptionist).
    public static func opensAsABusiness(_ words: String) -> Bool {
        guard !words.isEmpty, !soundsLikeAPerson(words) else { return false }
        let padded = " " + words + " "
        return businessOpenings.contains { padded.contains(" " + $0 + " ") }
    }

    /// Nothing but what people say picking up ("hello", "hello hello", "yeah"): at most three words.
    public static func isBareAnswer(_ words: String) -> Bool {
        let all = words.split(separator: " ")
        return !all.isEmpty && all.count <= 3 && all.allSatisfy { answers.contains(String($0)) }
    }
}
