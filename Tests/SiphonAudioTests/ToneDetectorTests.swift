import Foundation
import Testing
@testable import SiphonAudio

/// The beep and fax-tone detector answering-machine detection builds on.
struct ToneDetectorTests {
    static func events(_ signal: [Int16], rate: Int) -> [ToneDetector.Event] {
        let detector = ToneDetector(sampleRate: rate)
        var out = Signals.frames(signal, size: rate / 50).compactMap { detector.process($0) }
        if let last = detector.finish() { out.append(last) }
        return out
    }

    static func silence(_ seconds: Double, rate: Int) -> [Int16] { [Int16](repeating: 0, count: Int(seconds * Double(rate))) }

    @Test(arguments: [(440.0, 8000), (850, 8000), (1000, 8000), (1400, 8000), (1950, 8000), (1000, 16000), (620, 16000)])
    func aBeepIsFoundWithItsPitchAndLength(hz: Double, rate: Int) {
        let signal = Self.silence(0.5, rate: rate) + Signals.sine(hz, rate: rate, seconds: 0.4, amplitude: 8000) + Self.silence(0.5, rate: rate)
        let events = Self.events(signal, rate: rate)
        guard events.count == 2, case .started(let f0, let start) = events[0], case .ended(let f1, let duration, let end, let fax) = events[1] else {
            Issue.record("\(hz) Hz at \(rate): \(events)")
            return
        }
        #expect(abs(f0 - hz) < 15 && abs(f1 - hz) < 15, "\(f0) \(f1)")
        #expect(abs(start - 500) <= 20 && abs(duration - 400) <= 40 && end == start + duration, "\(events)")
        #expect(!fax)
    }

    @Test func tooShortOrOutOfTheBandIsNoBeep() {
        for (hz, seconds) in [(1000.0, 0.1), (300, 0.6), (2600, 0.6)] {
            let signal = Self.silence(0.2, rate: 8000) + Signals.sine(hz, rate: 8000, seconds: seconds) + Self.silence(0.2, rate: 8000)
            #expect(Self.events(signal, rate: 8000).isEmpty, "\(hz) Hz for \(seconds) s")
        }
    }

    /// Voiced speech spreads its energy over harmonics: never a tone, at any pitch, with or without noise.
    @Test func speechLikeSoundIsNoBeep() {
        for f0 in [95.0, 140, 210, 260] {
            let voiced = Signals.harmonic(f0, rate: 8000, seconds: 2, amplitude: 4000)
            #expect(Self.events(voiced, rate: 8000).isEmpty, "\(f0) Hz voice")
            let noisy = Signals.mix(voiced, Signals.noise(count: voiced.count, amplitude: 800))
            #expect(Self.events(noisy, rate: 8000).isEmpty, "\(f0) Hz voice in noise")
        }
        #expect(Self.events(Signals.noise(count: 16000, amplitude: 5000), rate: 8000).isEmpty, "noise")
    }

    /// A beep 10 dB above white noise, through μ-law, is still found.
    @Test func aBeepInNoiseThroughG711() {
        let beep = Self.silence(0.3, rate: 8000) + Signals.sine(1000, rate: 8000, seconds: 0.5, amplitude: 6000) + Self.silence(0.3, rate: 8000)
        let noise = Signals.noise(count: beep.count, amplitude: 6000 / 2.0.squareRoot() / 3.16 * 3.0.squareRoot())
        let line = Signals.mix(beep, noise).map { G711.ulawDecode(G711.ulawEncode($0)) }
        let events = Self.events(line, rate: 8000)
        #expect(events.contains { if case .ended(let f, let d, _, _) = $0 { abs(f - 1000) < 20 && abs(d - 500) <= 60 } else { false } }, "\(events)")
    }

    /// Fax CNG: 1100 Hz, half a second on, three off.
    @Test func aFaxCallingToneIsRecognised() {
        let cng = Signals.sine(1100, rate: 8000, seconds: 0.5, amplitude: 5000) + Self.silence(3, rate: 8000)
        let events = Self.events(cng + cng, rate: 8000)
        let faxes = events.filter { if case .ended(_, _, _, true) = $0 { true } else { false } }
        #expect(faxes.count == 2, "\(events)")
        let beep = Self.events(Signals.sine(1100, rate: 8000, seconds: 1.2, amplitude: 5000), rate: 8000)
        #expect(!beep.contains { if case .ended(_, _, _, true) = $0 { true } else { false } }, "a long 1100 Hz tone is a beep, not CNG")
    }
}

extension ToneDetectorTests {
    /// Voicemail greetings in several voices (eSpeak NG: male and female, slow and fast, low and
    /// high), at 8 kHz through μ-law: not one tone in them.
    @Test func spokenGreetingsHaveNoTone() throws {
        let greetings = ["The person you are calling is not available. Please leave a message after the tone.",
                         "Hi, you've reached Ann. I can't take your call right now, so leave me a message.",
                         "Hello? Yes, this is Ann speaking. Who's calling please?"]
        for (i, (voice, speed, pitch)) in [("en-us", 130, 30), ("en-us+f3", 175, 70), ("en-gb", 160, 50), ("en-us+f5", 200, 90)].enumerated() {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tone-greeting-\(i)-\(getpid()).wav").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
            p.arguments = ["-v", voice, "-s", String(speed), "-p", String(pitch), "-w", path, greetings[i % greetings.count]]
            try p.run()
            p.waitUntilExit()
            let wav = try WAVFile.read(path)
            let line = try Resampler(from: wav.sampleRate, to: 8000).process(wav.samples).map { G711.ulawDecode(G711.ulawEncode($0)) }
            let events = Self.events(line, rate: 8000)
            #expect(events.isEmpty, "\(voice) at \(speed) wpm, pitch \(pitch): \(events)")
        }
    }
}

