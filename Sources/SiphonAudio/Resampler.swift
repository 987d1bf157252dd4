import CSpeexDSP
import SiphonCore

/// Streaming sample-rate conversion with libspeexdsp's resampler (8, 16, 24, 48 kHz, mono).
/// Keeps its filter state across frames, so consecutive frames join without clicks.
/// C state owned by the class, freed in `deinit`; `process` allocates nothing.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    private let state: OpaquePointer

    /// Speex quality 0…10; 3 is its "VoIP" setting, 4 keeps ~60 dB stop-band attenuation at a few
    /// microseconds per 20 ms frame.
    public static let defaultQuality: Int32 = 4
    /// Telephony and pipeline rates, plus 22.05 kHz (eSpeak NG) and 44.1 kHz (WAV files).
    public static let supportedRates: Set<Int> = [8000, 16000, 22050, 24000, 44100, 48000]

    public init(from inputRate: Int, to outputRate: Int, quality: Int32 = Resampler.defaultQuality) throws {
        guard Self.supportedRates.contains(inputRate), Self.supportedRates.contains(outputRate) else {
            throw SiphonError.invalid("resampling \(inputRate) → \(outputRate) Hz is not supported (8, 16, 22.05, 24, 44.1, 48 kHz)")
        }
        var err: Int32 = 0
        guard let st = speex_resampler_init(1, UInt32(inputRate), UInt32(outputRate), quality, &err), err == 0 else {
            throw SiphonError(.internal, "speex_resampler_init failed (\(err))")
        }
        speex_resampler_skip_zeros(st)  // no leading zeros from the filter delay
        self.inputRate = inputRate
        self.outputRate = outputRate
        state = st
    }

    deinit { speex_resampler_destroy(state) }

    /// Output samples for `inputCount` input samples (exact for 20 ms frames at these rates).
    public func outputCount(for inputCount: Int) -> Int { inputCount * outputRate / inputRate }

    /// Resamples `input` into `output`; returns how many samples were written.
    @discardableResult
    public func process(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        var inLen = UInt32(input.count)
        var outLen = UInt32(output.count)
        speex_resampler_process_int(state, 0, input.baseAddress, &inLen, output.baseAddress, &outLen)
        return Int(outLen)
    }

    /// Convenience for non-hot paths (files, tests).
    public func process(_ input: [Int16]) -> [Int16] {
        var out = [Int16](repeating: 0, count: outputCount(for: input.count) + 16)
        let n = input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { process(i, into: $0) } }
        out.removeLast(out.count - n)
        return out
    }

    /// Forgets the filter history (a new stream).
    public func reset() { speex_resampler_reset_mem(state) }
}
