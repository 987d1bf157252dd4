import Foundation
import Testing
@testable import SiphonAudio

@Suite struct OpusTests {
    /// Best SNR over small delays (Opus output lags its input by the encoder look-ahead).
    static func alignedSNR(_ reference: [Int16], _ decoded: [Int16], maxLag: Int) -> Double {
        var best = -100.0
        for lag in 0...maxLag {
            var signal = 0.0, error = 0.0
            for i in maxLag..<(reference.count - maxLag) {
                let r = Double(reference[i]), d = Double(decoded[i + lag])
                signal += r * r
                error += (r - d) * (r - d)
            }
            best = max(best, 10 * log10(signal / max(error, 1)))
        }
        return best
    }

    @Test(arguments: [8000, 16000, 24000, 48000])
    func roundTripKeepsTheSignal(rate: Int) throws {
        let encoder = try OpusEncoder(sampleRate: rate)
        let decoder = try OpusDecoder(sampleRate: rate)
        // A voiced-speech-like signal: 150 Hz fundamental with harmonics.
        let n = rate / 50
        let input = (0..<(50 * n)).map { i -> Int16 in
            let t = Double(i) / Double(rate)
            let v = (1...8).reduce(0.0) { $0 + sin(2 * .pi * 150 * Double($1) * t) / Double($1) }
            return Int16(v * 4000)
        }
        var output: [Int16] = []
        var bytes = 0
        for frame in Signals.frames(input, size: n) {
            let packet = try encoder.encode(frame)
            bytes += packet.count
            output += try decoder.decode(packet)
        }
        // Opus is a perceptual codec: waveform SNR stays modest when it works, and goes to 0 dB or below
        // when it does not (wrong rate, channel count or framing).
        let snr = Self.alignedSNR(input, output, maxLag: rate / 100)
        #expect(snr > 5, "SNR \(snr) dB at \(rate) Hz")
        let level = Signals.db(Signals.rms(output[(rate / 10)...]) / Signals.rms(input[(rate / 10)...]))
        #expect(abs(level) < 1.5, "level changed by \(level) dB")
        #expect(Double(bytes * 8) / 1.0 < 40_000, "bitrate \(bytes * 8) bps")
    }

    @Test func concealsALostPacketAndRecoversItWithFEC() throws {
        let rate = 16000, n = 320
        var settings = OpusEncoder.Settings()
        settings.expectedLossPercent = 20
        let encoder = try OpusEncoder(sampleRate: rate, settings: settings)
        let input = Signals.sine(300, rate: rate, seconds: 1, amplitude: 8000)
        let packets = try Signals.frames(input, size: n).map { try encoder.encode($0) }
        let plc = try OpusDecoder(sampleRate: rate)
        let fec = try OpusDecoder(sampleRate: rate)
        for i in 0..<25 { _ = try plc.decode(packets[i]); _ = try fec.decode(packets[i]) }
        let concealed = try plc.decode(nil)  // frame 25 lost
        let recovered = try fec.decode(packets[26], fec: true)  // frame 25 rebuilt from frame 26's FEC data
        let expected = Signals.rms(input[(25 * n)..<(26 * n)])
        #expect(Signals.rms(concealed) > 0.3 * expected, "PLC should continue the tone, not go silent")
        #expect(Signals.rms(recovered) > 0.5 * expected)
        // The decoders stay usable.
        #expect(Signals.rms(try plc.decode(packets[26])) > 0.3 * expected)
    }

    @Test func malformedPacketsAreErrorsNotCrashes() throws {
        let decoder = try OpusDecoder(sampleRate: 16000)
        #expect(throws: (any Error).self) { try decoder.decode([0xFF, 0xFF, 0xFF]) }
        #expect(throws: (any Error).self) { try OpusEncoder(sampleRate: 44100) }
    }
}

@Suite struct ResamplerTests {
    @Test(arguments: [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (24000, 16000), (16000, 24000)])
    func aOneKilohertzToneKeepsItsLevel(from: Int, to: Int) throws {
        let r = try Resampler(from: from, to: to)
        let input = Signals.sine(1000, rate: from, seconds: 1, amplitude: 10000)
        var output: [Int16] = []
        for frame in Signals.frames(input, size: from / 50) { output += r.process(frame) }
        #expect(abs(output.count - to) <= to / 50)
        let steady = output[(to / 10)..<(output.count - to / 10)]
        let change = Signals.db(Signals.rms(steady) / Signals.rms(input))
        #expect(abs(change) < 0.5, "level changed by \(change) dB")
    }

    @Test func contentAboveTheNewNyquistIsAttenuated() throws {
        let r = try Resampler(from: 48000, to: 8000)
        let input = Signals.sine(6000, rate: 48000, seconds: 1, amplitude: 10000)  // above 4 kHz
        let output = Signals.frames(input, size: 960).flatMap { r.process($0) }
        let attenuation = Signals.db(Signals.rms(output[800...]) / Signals.rms(input))
        #expect(attenuation < -40, "only \(attenuation) dB")
    }

    @Test func framesJoinWithoutClicks() throws {
        let r = try Resampler(from: 8000, to: 16000)
        let amplitude = 10000.0
        let input = Signals.sine(1000, rate: 8000, seconds: 0.5, amplitude: amplitude)
        let output = Signals.frames(input, size: 160).flatMap { r.process($0) }
        // A 1 kHz sine at 16 kHz moves at most 2π·1000/16000·A per sample; a click would exceed it.
        let limit = 2 * Double.pi * 1000 / 16000 * amplitude * 1.1
        let steps = zip(output.dropFirst(320), output.dropFirst(321)).map { abs(Double($1) - Double($0)) }
        #expect(steps.max() ?? 0 < limit)
    }

    @Test func refusesUnsupportedRates() {
        #expect(throws: (any Error).self) { try Resampler(from: 11025, to: 8000) }
    }
}

@Suite struct WAVTests {
    @Test func roundTripsPCM16AndMuLaw() throws {
        let samples = Signals.sine(440, rate: 8000, seconds: 0.1)
        let wav = WAVFile(sampleRate: 8000, samples: samples)
        #expect(try WAVFile.parse(wav.data()) == wav)
        let ulaw = try WAVFile.parse(wav.data(encoding: .ulaw))
        #expect(ulaw.samples == samples.map { G711.ulawDecode(G711.ulawEncode($0)) })
        let alaw = try WAVFile.parse(wav.data(encoding: .alaw))
        #expect(alaw.samples.count == samples.count)
    }

    @Test func malformedFilesGetClearErrors() {
        #expect(throws: (any Error).self) { try WAVFile.parse(Data("RIFF".utf8)) }
        #expect(throws: (any Error).self) { try WAVFile.parse(Data(repeating: 0, count: 64)) }
        var bytes = [UInt8](WAVFile(sampleRate: 8000, samples: [1, 2, 3]).data())
        bytes[20] = 3  // IEEE float
        #expect(throws: (any Error).self) { try WAVFile.parse(Data(bytes)) }
        let truncated = [UInt8](WAVFile(sampleRate: 8000, samples: [1, 2, 3]).data()).prefix(30)
        #expect(throws: (any Error).self) { try WAVFile.parse(Data(truncated)) }
    }
}

@Suite struct FramePoolTests {
    @Test func recycledStorageIsReused() {
        let pool = FramePool(limit: 2)
        let a = pool.take(sampleRate: 8000)
        #expect(a.samples.count == 160)
        pool.recycle(a)
        #expect(pool.available == 1)
        _ = pool.take(sampleRate: 8000)
        #expect(pool.available == 0)
        pool.recycle(AudioFrame(sampleRate: 8000, samples: [1, 2]))  // wrong size: not kept
        #expect(pool.available == 0)
    }
}
