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
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("answer-\(getpid())-\(text.count).wav").path
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
}
