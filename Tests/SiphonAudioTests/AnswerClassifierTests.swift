import Foundation
import Testing
@testable import SiphonAudio

/// Who answered, from cadence and tones (words come later: issue 16).
struct AnswerClassifierTests {
    static func classify(_ signal: [Int16]) -> AnswerClassifier.Decision? {
        let classifier = AnswerClassifier(sampleRate: 8000)
        for frame in Signals.frames(signal, size: 160) { if let d = classifier.process(frame) { return d } }
        return nil
    }

    static func speech(_ text: String, voice: String = "en-us") throws -> [Int16] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("answer-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
        p.arguments = ["-v", voice, "-s", "160", "-w", path, text]
        try p.run()
        p.waitUntilExit()
        let wav = try WAVFile.read(path)
        return try Resampler(from: wav.sampleRate, to: 8000).process(wav.samples)
    }

    @Test func aPersonSaysHelloAndWaits() throws {
        let d = try #require(Self.classify(ToneDetectorTests.silence(0.4, rate: 8000) + Self.speech("Hello?") + ToneDetectorTests.silence(3, rate: 8000)))
        #expect(d.kind == .human && d.cause == "short greeting then silence" && d.atMs < 2000, "\(d)")
    }

    @Test func aRecordedGreetingIsAMachine() throws {
        let greeting = try Self.speech("Hi, you've reached Ann. I can't take your call right now, so please leave me a message after the tone.")
        let d = try #require(Self.classify(greeting + ToneDetectorTests.silence(3, rate: 8000)))
        #expect(d.kind == .machine && d.cause == "long greeting", "\(d)")
    }

    /// A short greeting that ends in a beep: the beep decides, before the pause would say "person".
    @Test func aBeepMakesItAMachine() throws {
        let signal = try Self.speech("Leave a message.") + ToneDetectorTests.silence(0.3, rate: 8000)
            + Signals.sine(1000, rate: 8000, seconds: 0.5, amplitude: 8000) + ToneDetectorTests.silence(2, rate: 8000)
        let d = try #require(Self.classify(signal))
        #expect(d.kind == .machine && d.cause == "beep", "\(d)")
    }

    @Test func aFaxAndAnOpenLine() throws {
        let cng = Signals.sine(1100, rate: 8000, seconds: 0.5, amplitude: 6000) + ToneDetectorTests.silence(3, rate: 8000)
        #expect(Self.classify(cng)?.kind == .fax)
        let hiss = Signals.noise(count: 8000 * 6, amplitude: 60)
        let d = try #require(Self.classify(hiss))
        #expect(d.kind == .silence && d.atMs == 3000, "\(d)")
    }

    @Test func wordsDecideScreenersMenusAndGreetings() {
        let cases: [(String, AnswerClassifier.Kind?)] = [
            ("Hi, the person you're calling is using a screening service", .screener),
            ("please state your name and the reason for your call", .screener),
            ("please say who is calling", .screener),  // a screener's question, not a person's "who is calling?"
            ("thank you for calling for sales press one", .ivr),
            ("If you know your party's extension, you may dial it at any time", .ivr),
            ("you've reached Ann, leave me a message", .machine),
            ("the wireless customer you are calling is not available", .machine),
            ("hello who's calling", .human),  // a person's phrase: decided as it is said
            ("yes this is Ann", .human),
        ]
        for (text, kind) in cases {
            let c = AnswerClassifier(sampleRate: 8000)
            #expect(c.heard(text, isFinal: true)?.kind == kind, "\(text)")
        }
        // Split over a final and an interim, the phrase still counts; a decision stays made.
        let c = AnswerClassifier(sampleRate: 8000)
        #expect(c.heard("please leave", isFinal: true) == nil)
        #expect(c.heard("a message", isFinal: false)?.cause == "words: \"leave a message\"")
        #expect(c.heard("hello", isFinal: true)?.kind == .machine)
    }

    /// Spanish, French and German greetings, screeners, menus and answers, accents or not (a
    /// recogniser may drop them); a Spanish "si" (if) opens greetings, so it does not decide.
    @Test func wordsDecideInSpanishFrenchAndGerman() throws {
        let cases: [(String, AnswerClassifier.Kind?)] = [
            ("Hola, has llamado a Ana. Deja tu mensaje después del tono", .machine),
            ("el numero que usted marco no esta disponible", .machine),
            ("la persona a quien llama está filtrando sus llamadas", .screener),
            ("por favor diga su nombre y el motivo de su llamada", .screener),
            ("Para ventas, marque uno. Para soporte, oprima el dos", .ivr),
            ("Hola, ¿quién habla?", .human),  // a person's phrase: decided as it is said
            ("Si desea dejar un mensaje", .machine),
            ("Vous êtes bien sur le répondeur de Marie, laissez un message après le bip", .machine),
            ("Pour le service client, tapez un", .ivr),
            ("Sie sind mit dem Anrufbeantworter verbunden, bitte sprechen Sie nach dem Signalton", .machine),
            ("Für Deutsch drücken Sie die Eins", .ivr),
        ]
        for (text, kind) in cases {
            #expect(AnswerClassifier(sampleRate: 8000).heard(text, isFinal: true)?.kind == kind, "\(text)")
        }
        #expect(AnswerPhrases.normalize("DESPUÉS del TONO, ¿sí?") == "despues del tono si")
        #expect(AnswerPhrases.soundsLikeAPerson("hola quien habla") && AnswerPhrases.soundsLikeAPerson("allo qui est a l'appareil"))
        #expect(AnswerPhrases.soundsLikeAPerson("ja hier ist anna am apparat"))
        // "Marc speaking", "can I help you?" in French and German; "Oui"/"Ja" open as "Yes" does.
        for words in ["allo marc a l'appareil", "bonjour ici sam je peux vous aider", "guten tag kann ich ihnen helfen"] {
            #expect(AnswerPhrases.soundsLikeAPerson(AnswerPhrases.normalize(words)), "\(words)")
        }
        for words in ["Oui, bonjour ?", "Ja, bitte?", "ja anna hier"] {
            #expect(AnswerClassifier(sampleRate: 8000).heard(words, isFinal: false)?.kind == .human, "\(words)")
        }
        #expect(AnswerClassifier(sampleRate: 8000).heard("oui bonjour vous etes bien sur la messagerie vocale", isFinal: false)?.kind == .machine)
        #expect(!AnswerPhrases.soundsLikeAPerson("si") && AnswerPhrases.isBareAnswer("bueno") && AnswerPhrases.isBareAnswer("alo"))
        #expect(AnswerClassifier(sampleRate: 8000).heard("si habla ana", isFinal: false) == nil)

        // Said: "¿Bueno?" then a pause is a person sooner than the cadence alone would say; a
        // Spanish greeting that opens with "Hola," stays a machine.
        let said = try Self.speech("¿Bueno?", voice: "es-419")
        let hello = ToneDetectorTests.silence(0.4, rate: 8000) + said + ToneDetectorTests.silence(3, rate: 8000)
        let plain = try #require(Self.classify(hello))
        let d = try #require(Self.withInterims(hello, text: "bueno", speech: 20..<(20 + said.count / 160)))
        #expect(d.kind == .human && d.atMs <= plain.atMs - 200, "with words \(d), without \(plain.atMs) ms")
        let greeting = "Hola, soy Marcos. No puedo atender en este momento. Deje un mensaje."
        let voice = try Self.speech(greeting, voice: "es")
        let g = try #require(Self.withInterims(voice + ToneDetectorTests.silence(3, rate: 8000), text: AnswerPhrases.normalize(greeting),
                                               speech: 0..<(voice.count / 160)))
        #expect(g.kind == .machine, "\(g)")
    }

    /// An "Allô ?" of 300 ms at the answer may be too short and too early for the VAD; the
    /// recogniser's word is speech all the same: a person, not "no speech".
    @Test func wordsTheVADMissedAreSpeech() throws {
        let classifier = AnswerClassifier(sampleRate: 8000)
        var decision: AnswerClassifier.Decision?
        for (n, frame) in Signals.frames(ToneDetectorTests.silence(4, rate: 8000), size: 160).enumerated() where decision == nil {
            if n == 30 { classifier.heard("allô", isFinal: true) }
            decision = classifier.process(frame)
        }
        let d = try #require(decision)
        #expect(d.kind == .human && d.cause == "a hello then silence" && d.atMs > 600, "\(d)")
    }

    /// A person's phrase decides as soon as the recogniser has it, while they may still be talking
    /// (not after the pause that ends it); many greetings start as a person would and do not.
    @Test func aPersonsPhraseDecidesAtOnce() throws {
        let hello = ToneDetectorTests.silence(0.4, rate: 8000) + (try Self.speech("Who's calling?")) + ToneDetectorTests.silence(3, rate: 8000)
        let plain = try #require(Self.classify(hello))
        let classifier = AnswerClassifier(sampleRate: 8000)
        var withWords: AnswerClassifier.Decision?
        for (n, frame) in Signals.frames(hello, size: 160).enumerated() where withWords == nil {
            if n == 50 { withWords = classifier.heard("who's calling", isFinal: false) }  // an interim, as they say it
            if withWords == nil { withWords = classifier.process(frame) }
        }
        let d = try #require(withWords)
        #expect(d.kind == .human && d.cause == "words: \"who's calling\"" && d.atMs == 1000, "\(d)")
        #expect(d.atMs <= plain.atMs - 500, "with words \(d.atMs) ms, without \(plain.atMs) ms")
        for (said, phrase) in [("hi who's calling", "who's calling"), ("hello mark speaking", "speaking"), ("good morning acme dental", "good morning"),
                               ("acme dental how can i help", "can i help"), ("allo qui est a l'appareil", "a l'appareil")] {
            #expect(AnswerClassifier(sampleRate: 8000).heard(said, isFinal: false)?.cause == "words: \"\(phrase)\"", "\(said)")
        }
        // Many greetings start as a person would: these wait for the pause like any other words.
        for greeting in ["hello", "hello this is mark", "hi you've reached mark", "hey it's sam", "thank you for calling acme"] {
            #expect(AnswerClassifier(sampleRate: 8000).heard(greeting, isFinal: false)?.kind != .human, "\(greeting)")
        }
    }

    /// A recording that says a person's phrase ("Hi, this is Mark speaking, please leave…") is a person at
    /// the phrase, then taken back by its own words said before it pauses; a person's words after
    /// their pause are not a recording's.
    @Test func aPersonsPhraseInARecordingIsTakenBack() throws {
        let voice = try Self.speech("Hi this is Mark speaking please leave a message after the tone")
        let classifier = AnswerClassifier(sampleRate: 8000)
        let frames = Signals.frames(voice + ToneDetectorTests.silence(1, rate: 8000), size: 160)
        let spoken = try #require(frames.lastIndex { $0.contains { abs(Int($0)) > 300 } })  // eSpeak pads its end with silence
        for (n, frame) in frames.enumerated() {
            if n == 50 { #expect(classifier.heard("hi this is mark speaking", isFinal: false)?.kind == .human && classifier.isWatching) }
            if n == spoken + 12 { classifier.heard("hi this is mark speaking please leave a message after the tone", isFinal: true) }  // 240 ms after
            classifier.process(frame)
        }
        let revised = try #require(classifier.revision)
        #expect(revised.kind == .machine && revised.cause == "words after it: \"leave a message\"", "\(revised)")

        let person = AnswerClassifier(sampleRate: 8000)
        let answer = try Self.speech("Hi, who's calling?")
        for (n, frame) in Signals.frames(answer + ToneDetectorTests.silence(1, rate: 8000), size: 160).enumerated() {
            if n == 20 { person.heard("hi who's calling", isFinal: false) }
            person.process(frame)
        }
        #expect(person.decision?.kind == .human && !person.isWatching, "the watch ended with their pause")
        // An opening "yeah" is watched the same way: "Yeah, hi, it's Sam, leave a message" before a pause.
        let yeah = AnswerClassifier(sampleRate: 8000)
        #expect(yeah.heard("yeah", isFinal: false)?.cause == "words: a person's answer" && yeah.isWatching)
        #expect(yeah.heard("yeah hi it's sam leave a message", isFinal: false)?.kind == .machine)
        #expect(person.heard("please leave a message with my assistant", isFinal: true)?.kind == .human && person.revision == nil)
    }

    /// "Yes?", "Yeah, this is Ann": no recording opens so — a person, decided on the first interim
    /// while they may still be talking; a recording's phrase still wins.
    @Test func anOpeningYesDecidesAtOnce() {
        for words in ["yes", "yeah this is ann", "yep", "Yes, speaking."] {
            let d = AnswerClassifier(sampleRate: 8000).heard(words, isFinal: false)
            #expect(d?.kind == .human && d?.cause == "words: a person's answer", "\(words): \(String(describing: d))")
        }
        for words in ["hello", "hi there", "hey it's sam", "yesterday was busy", "this is ann"] {
            #expect(AnswerClassifier(sampleRate: 8000).heard(words, isFinal: false) == nil, "\(words)")
        }
        #expect(AnswerClassifier(sampleRate: 8000).heard("yes you've reached ann", isFinal: false)?.kind == .machine)
    }

    /// Words given as a streaming recogniser would: every 10 frames while `speech` (frame range) is
    /// said, 12 frames behind, as many of `text`'s words as the time said is of the whole.
    static func withInterims(_ signal: [Int16], text: String, speech: Range<Int>) -> AnswerClassifier.Decision? {
        let classifier = AnswerClassifier(sampleRate: 8000)
        let words = text.split(separator: " ")
        for (n, frame) in Signals.frames(signal, size: 160).enumerated() {
            if n >= speech.lowerBound + 12, n <= speech.upperBound + 12, (n - speech.lowerBound) % 10 == 2 {
                let k = Int((Double(words.count) * Double(n - 12 - speech.lowerBound) / Double(speech.count)).rounded(.up))
                if k > 0 { classifier.heard(words.prefix(min(k, words.count)).joined(separator: " "), isFinal: false) }
            }
            if let d = classifier.process(frame) { return d }
        }
        return classifier.decision
    }

    /// A bare "hello" then a pause is a person sooner than the cadence alone would say (450 ms of
    /// silence, not 700); a greeting that opens with "Hey," and pauses is not taken for one.
    @Test func aBareHelloShortensThePauseAndAGreetingsOpeningDoesNot() throws {
        let said = try Self.speech("Hello?")
        let hello = ToneDetectorTests.silence(0.4, rate: 8000) + said + ToneDetectorTests.silence(3, rate: 8000)
        let plain = try #require(Self.classify(hello))
        let d = try #require(Self.withInterims(hello, text: "hello", speech: 20..<(20 + said.count / 160)))
        #expect(d.kind == .human && d.cause == "a hello then silence", "\(d)")
        #expect(d.atMs <= plain.atMs - 200, "with words \(d.atMs) ms, without \(plain.atMs) ms")

        for greeting in ["Hey, it's Sam. Leave a message.", "Hello, this is Mark. Sorry I missed you. Please leave a message."] {
            let voice = try Self.speech(greeting)
            let text = AnswerPhrases.normalize(greeting)
            let g = try #require(Self.withInterims(voice + ToneDetectorTests.silence(3, rate: 8000), text: text, speech: 0..<(voice.count / 160)))
            #expect(g.kind == .machine, "\(greeting): \(g)")
        }
    }

    /// Words that come after the cadence said "long greeting" (a recogniser with finals only)
    /// revise it while the greeting lasts — and not after it ended.
    @Test func aLongAnswerIsRevisedByItsWords() throws {
        let long = try Self.speech("Hello, this is Sam on the line from the office, how can I help you today?")
        let classifier = AnswerClassifier(sampleRate: 8000)
        var decision: AnswerClassifier.Decision?
        for frame in Signals.frames(long, size: 160) where decision == nil { decision = classifier.process(frame) }
        #expect(decision?.kind == .machine && decision?.cause == "long greeting", "\(String(describing: decision))")
        #expect(classifier.heard("hello this is sam on the line from the office how can i help you today", isFinal: true)?.kind == .human)
        #expect(classifier.revision?.cause == "words: a person's" && classifier.decision?.kind == .machine)

        let ended = AnswerClassifier(sampleRate: 8000)
        for frame in Signals.frames(long + ToneDetectorTests.silence(2, rate: 8000), size: 160) where ended.decision == nil || ended.decision != nil {
            if ended.decision == nil { ended.process(frame) } else if ended.followGreeting(frame, silenceMs: 1500) != nil { break }
        }
        #expect(ended.heard("please state your name", isFinal: true)?.kind == .machine && ended.revision == nil)
    }

    /// "Thank you for calling." and a pause is how a menu or an office's voicemail opens: the pause
    /// that makes a person is 2 s after it, not 700 ms; the menu that follows decides. A receptionist
    /// who goes on ("… how may I help you?") is a person.
    @Test func aBusinessOpeningWaitsForWhatFollows() throws {
        let opening = try Self.speech("Thank you for calling.")
        let menu = try Self.speech("For sales, press one.")
        let pause = ToneDetectorTests.silence(1.2, rate: 8000)
        let call = opening + pause + menu + ToneDetectorTests.silence(3, rate: 8000)
        let words = "thank you for calling for sales press one"
        let plain = try #require(Self.classify(call))
        #expect(plain.kind == .human && plain.cause == "short greeting then silence", "\(plain)")  // cadence alone is fooled
        let openingFrames = opening.count / 160, menuStart = (opening.count + pause.count) / 160
        let classifier = AnswerClassifier(sampleRate: 8000)
        var decision: AnswerClassifier.Decision?
        for (n, frame) in Signals.frames(call, size: 160).enumerated() where decision == nil {
            if n == openingFrames + 12 { classifier.heard("thank you for calling", isFinal: true) }
            if n == menuStart + 40 { decision = classifier.heard(words, isFinal: false) }
            if decision == nil { decision = classifier.process(frame) }
        }
        #expect(decision?.kind == .ivr && decision?.cause == "words: \"press one\"", "\(String(describing: decision))")

        // Left waiting after the opening, it is a person after all (a receptionist waiting), 1.3 s
        // later than after other words (2 s of silence, not 700 ms).
        let alone = opening + ToneDetectorTests.silence(4, rate: 8000)
        let waiting = AnswerClassifier(sampleRate: 8000)
        var decided: AnswerClassifier.Decision?
        for (n, frame) in Signals.frames(alone, size: 160).enumerated() where decided == nil {
            if n == openingFrames + 12 { waiting.heard("thank you for calling", isFinal: true) }
            decided = waiting.process(frame)
        }
        let d = try #require(decided), cadence = try #require(Self.classify(alone))
        #expect(d.kind == .human && d.atMs == cadence.atMs + 1300, "\(d), without words \(cadence)")

        #expect(AnswerPhrases.opensAsABusiness("thank you for calling acme dental"))
        #expect(AnswerPhrases.opensAsABusiness("vielen dank fur ihren anruf"))
        #expect(!AnswerPhrases.opensAsABusiness("thank you for calling acme dental this is ann how may i help you"))
        #expect(AnswerPhrases.soundsLikeAPerson("thank you for calling acme dental this is ann how may i help you"))
        // What takes a person back: only what a recording says, not what people say too.
        #expect(AnswerPhrases.recordingPhrase("hello sorry i can't come to the phone leave a message")?.0 == .machine)
        #expect(AnswerPhrases.recordingPhrase("for sales press one")?.0 == .ivr)
        #expect(AnswerPhrases.recordingPhrase("go ahead and say your name")?.0 == .screener)
        for said in ["who is calling and why", "let me put you through to his extension", "i am not available tomorrow", "is this for sales"] {
            #expect(AnswerPhrases.recordingPhrase(said) == nil, "\(said)")
        }
        // The time of day is said live; menus' "extension" and "listen carefully" in French and German.
        #expect(AnswerPhrases.soundsLikeAPerson("buenos dias clinica acme habla ana") && AnswerPhrases.soundsLikeAPerson("good morning acme dental"))
        #expect(AnswerPhrases.match("wenn sie die durchwahl ihres gesprachspartners kennen")?.0 == .ivr)
        #expect(AnswerPhrases.match(AnswerPhrases.normalize("Bitte hören Sie genau zu"))?.0 == .ivr)
        #expect(AnswerPhrases.match(AnswerPhrases.normalize("si vous connaissez le numéro de poste"))?.0 == .ivr)
    }
}
