import Foundation
import Testing
@testable import SiphonAudio
import SiphonCore

@Suite struct DTMFTests {
    @Test func telephoneEventPayloadRoundTrips() throws {
        let e = TelephoneEvent(event: 11, end: true, volume: 10, duration: 1280)
        #expect(e.bytes == [11, 0x8A, 0x05, 0x00])
        #expect(try TelephoneEvent(parsing: e.bytes) == e)
        #expect(e.digit == "#")
        #expect(TelephoneEvent.event(for: "d") == 15)
        #expect(TelephoneEvent.event(for: "x") == nil)
        #expect(throws: (any Error).self) { try TelephoneEvent(parsing: [1, 2]) }
    }

    @Test(arguments: [8000, 16000])
    func detectsAll16DigitsInNoise(rate: Int) {
        let generator = DTMFGenerator(sampleRate: rate)
        let detector = DTMFDetector(sampleRate: rate)
        var signal: [Int16] = []
        for d in TelephoneEvent.digits {
            signal += generator.tone(d, seconds: 0.08)!
            signal += [Int16](repeating: 0, count: rate / 20)  // 50 ms gap
        }
        let noisy = Signals.mix(signal, Signals.noise(count: signal.count, amplitude: 800))  // ~20 dB below the tones
        let found = Signals.frames(noisy, size: rate / 50).compactMap { detector.process($0) }
        #expect(String(found) == String(TelephoneEvent.digits))
    }

    @Test func aRepeatedDigitNeedsAGap() {
        let detector = DTMFDetector(sampleRate: 8000)
        let tone = DTMFGenerator(sampleRate: 8000).tone("5", seconds: 0.3)!
        #expect(Signals.frames(tone, size: 160).compactMap { detector.process($0) } == ["5"])
    }

    @Test func ignoresNoiseAndSingleTones() {
        let detector = DTMFDetector(sampleRate: 8000)
        let noise = Signals.noise(count: 8000, amplitude: 8000)
        let single = Signals.sine(770, rate: 8000, seconds: 0.5)
        let chord = Signals.mix(Signals.sine(440, rate: 8000, seconds: 0.5), Signals.sine(1209, rate: 8000, seconds: 0.5))
        for signal in [noise, single, chord] {
            #expect(Signals.frames(signal, size: 160).compactMap { detector.process($0) }.isEmpty)
        }
    }
}

@Suite struct VADTests {
    @Test func ratesItCannotTakeAreAnErrorNotATrap() throws {
        for rate in [4000, 11025, 32000, 96000] {
            #expect(throws: SiphonError.self) { try VoiceActivityDetector.make(sampleRate: rate) }
        }
        #expect(try VoiceActivityDetector.make(sampleRate: 44100).frameSamples == 882)
    }

    func run(_ x: [Int16], rate: Int, _ config: VADConfiguration = VADConfiguration()) -> [VoiceActivityDetector.Decision] {
        let vad = VoiceActivityDetector(sampleRate: rate, configuration: config)
        return Signals.frames(x, size: rate / 50).map { vad.process($0) }
    }

    /// 8 and 16 kHz natively; a 24 or 48 kHz pipeline and 22.05/44.1 kHz recordings through the
    /// detector's own resampler (a 44.1 kHz WAV trapped `siphon vad run` and preflight before).
    @Test(arguments: [8000, 16000, 22050, 24000, 44100, 48000])
    func silenceAndStationaryNoiseAreNotSpeech(rate: Int) {
        #expect(run([Int16](repeating: 0, count: rate * 2), rate: rate).allSatisfy { !$0.isSpeech })
        // Comfort-noise-like hiss at about −45 dBFS.
        let hiss = Signals.noise(count: rate * 3, amplitude: 300)
        #expect(run(hiss, rate: rate).allSatisfy { !$0.isSpeech })
    }

    @Test(arguments: [8000, 16000, 22050, 24000, 44100, 48000])
    func aVoicedBurstInNoiseIsOneSegmentWithEvents(rate: Int) {
        let noise = Signals.noise(count: rate * 3, amplitude: 300)
        var voiced = [Int16](repeating: 0, count: rate)
        voiced += Signals.harmonic(140, rate: rate, seconds: 1)
        voiced += [Int16](repeating: 0, count: rate)
        let decisions = run(Signals.mix(noise, voiced), rate: rate)
        let starts = decisions.compactMap { d -> Int? in if case .speechStarted(let p) = d.event { return p } else { return nil } }
        let ends = decisions.filter { $0.event == .speechEnded }
        #expect(starts.count == 1 && ends.count == 1)
        #expect(starts.first == 15)  // default 0.3 s prefix padding, confirmed in the first frame
        let speech = decisions.indices.filter { decisions[$0].isSpeech }
        #expect(speech.first.map { (48...53).contains($0) } == true, "onset at frame \(speech.first ?? -1)")
        // Ends after the release of the smoothed likelihood plus the 0.1 s minimum silence.
        #expect(speech.last.map { (99...111).contains($0) } == true, "offset at frame \(speech.last ?? -1)")
    }

    @Test func configurationValidationNamesTheKey() throws {
        var c = VADConfiguration()
        c.deactivationThreshold = 0.9
        #expect(try c.validate().contains { $0.contains("deactivation_threshold") })
        c = VADConfiguration()
        c.activationThreshold = 2
        #expect(try c.validate().contains { $0.contains("activation_threshold") })
        #expect(try VADConfiguration().validate().isEmpty)
    }

    @Test func hysteresisKeepsSpeechThroughABriefDip() {
        var config = VADConfiguration()
        config.minSilenceDuration = 0.2
        var x = Signals.noise(count: 8000, amplitude: 200)
        let tone = Signals.harmonic(160, rate: 8000, seconds: 0.5, harmonics: 8)
        x += tone + [Int16](repeating: 0, count: 480) + tone + Signals.noise(count: 8000, amplitude: 200)  // 60 ms dip
        let decisions = run(x, rate: 8000, config)
        #expect(decisions.filter { if case .speechStarted = $0.event { return true } else { return false } }.count == 1)
    }
}

@Suite struct EchoGuardTests {
    @Test func echoAloneIsNotCallerSpeechButTheCallerIs() {
        let guardian = EchoGuard(tail: 0.5, marginDB: 6)
        let agent = Signals.sine(300, rate: 8000, seconds: 1, amplitude: 12000)
        let echoDelay = 960  // 120 ms
        let echo = ([Int16](repeating: 0, count: echoDelay) + agent).prefix(agent.count).map { Int16(Double($0) * 0.25) }  // −12 dB ERL
        let caller = Signals.sine(500, rate: 8000, seconds: 1, amplitude: 9000)
        var echoAdmitted = 0, doubleTalkAdmitted = 0
        let frames = agent.count / 160
        for f in 0..<frames {
            let range = (f * 160)..<((f + 1) * 160)
            Array(agent[range]).withUnsafeBufferPointer { guardian.outbound($0) }
            if f < 10 { continue }
            if Array(echo[range]).withUnsafeBufferPointer({ guardian.admits($0) }) { echoAdmitted += 1 }
            let both = Signals.mix(Array(echo[range]), Array(caller[range]))
            if both.withUnsafeBufferPointer({ guardian.admits($0) }) { doubleTalkAdmitted += 1 }
        }
        #expect(echoAdmitted == 0)
        #expect(doubleTalkAdmitted == frames - 10)
        // Once the agent has been quiet for the whole tail, everything is admitted again.
        for _ in 0..<25 { guardian.outboundSilence() }
        #expect(Array(echo[0..<160]).withUnsafeBufferPointer { guardian.admits($0) })
    }

    /// Agent speech with a syllable-rate level envelope (4 Hz), like a voice rather than a tone.
    static func voice(_ f0: Double, seconds: Double, amplitude: Double) -> [Int16] {
        let x = Signals.harmonic(f0, rate: 8000, seconds: seconds, amplitude: amplitude, harmonics: 8)
        return x.enumerated().map { i, s in
            let envelope: Double = 0.55 + 0.45 * sin(2 * Double.pi * 4 * Double(i) / 8000)
            return Int16(Double(s) * envelope)
        }
    }

    /// Feeds the agent's `agent` audio and the line's `inbound`, frame by frame; counts admissions.
    static func run(_ guardian: EchoGuard, agent: [Int16], inbound: [Int16]) -> Int {
        var admitted = 0
        for f in 0..<min(agent.count, inbound.count) / 160 {
            let range = (f * 160)..<((f + 1) * 160)
            Array(agent[range]).withUnsafeBufferPointer { guardian.outbound($0) }
            if Array(inbound[range]).withUnsafeBufferPointer({ guardian.admits($0) }) { admitted += 1 }
        }
        return admitted
    }

    @Test func onAnEchoeyLineTheMarginStaysBelowTheMeasuredEchoReturnLoss() {
        let guardian = EchoGuard()
        let agent = Self.voice(140, seconds: 6, amplitude: 6000)
        let echo = ([Int16](repeating: 0, count: 800) + agent).prefix(agent.count).map { Int16(Double($0) * 0.25) }  // 12 dB ERL, 100 ms
        #expect(Self.run(guardian, agent: agent, inbound: echo) == 0, "echo alone never counts as the caller")
        #expect(guardian.currentMarginDB >= 6 && guardian.currentMarginDB < 12, "margin \(guardian.currentMarginDB)")
        // A caller as loud as the agent still gets through more than half the frames.
        let caller = Self.voice(220, seconds: 1, amplitude: 6000)
        let both = Signals.mix(Array(echo.prefix(8000)), caller)
        #expect(Self.run(guardian, agent: Array(agent.prefix(8000)), inbound: both) > 25)
        guardian.remeasure()
        #expect(abs(guardian.currentMarginDB - 6) < 0.01)
    }

    @Test func onACleanLineAQuieterCallerCanInterrupt() {
        let guardian = EchoGuard()
        let agent = Self.voice(140, seconds: 3, amplitude: 12000)
        let caller = Self.voice(220, seconds: 1, amplitude: 1500)  // 18 dB below the agent
        // Before the line is measured, the G.168 margin holds the quiet caller back.
        #expect(Self.run(guardian, agent: Array(agent.prefix(8000)), inbound: caller) < 10)
        // Two seconds of the agent with only line noise coming back: the margin opens up.
        #expect(Self.run(guardian, agent: agent, inbound: Signals.noise(count: agent.count, amplitude: 30)) == 0)
        #expect(abs(guardian.currentMarginDB - 30) < 0.01)
        #expect(Self.run(guardian, agent: Array(agent.prefix(8000)), inbound: caller) > 35)
    }
}

@Suite struct VADRobustnessTests {
    @Test func shortAndLongFramesAreHandled() {
        let vad = VoiceActivityDetector(sampleRate: 8000)
        for n in [0, 1, 100, 159, 161, 400] {
            let d = vad.process([Int16](repeating: 1000, count: n))
            #expect(d.probability >= 0 && d.probability <= 1)
        }
    }
}
