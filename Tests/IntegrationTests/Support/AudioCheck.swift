import Foundation
import SiphonAudio

/// Signals and similarity measures for checking that audio crossed a call.
enum AudioCheck {
    /// A chirp (300→3000 Hz) gated on and off in 100 ms slots by a fixed pseudo-random pattern:
    /// the gating gives a distinctive level envelope to find the alignment, the chirp a sharp
    /// sample-level correlation peak.
    static func probe(rate: Int = 8000, seconds: Double = 3, level: Double = 0.3) -> [Int16] {
        let n = Int(Double(rate) * seconds)
        var lfsr: UInt16 = 0xACE1
        var gates: [Bool] = []
        for _ in 0..<Int(seconds * 10) {
            let bit = ((lfsr >> 0) ^ (lfsr >> 2) ^ (lfsr >> 3) ^ (lfsr >> 5)) & 1
            lfsr = (lfsr >> 1) | (bit << 15)
            gates.append(lfsr & 1 == 1)
        }
        return (0..<n).map { i in
            let t = Double(i) / Double(rate)
            guard gates[min(gates.count - 1, i * 10 / rate)] else { return 0 }
            let phase = 2 * Double.pi * (300 * t + 2700 * t * t / (2 * seconds))
            return Int16(sin(phase) * 32767 * level)
        }
    }

    /// Frame energies (20 ms) in dB.
    static func envelope(_ x: [Int16], rate: Int) -> [Double] {
        let n = rate / 50
        return stride(from: 0, to: x.count - n + 1, by: n).map { s in
            let e = x[s..<s + n].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)
            return 10 * log10(e + 1)
        }
    }

    /// The score above which a probe crossed a call whole (one clean path scores about 0.99).
    static let whole = 0.85

    /// How well `probe` survived inside `haystack` (both at `rate`): the envelope finds the
    /// alignment to within a frame, then each 100 ms slot of the probe that has sound is matched
    /// sample by sample within 60 ms of it, and the slots' normalised correlations are averaged.
    /// Slot by slot, because a receiver's adaptive jitter buffer (PJSIP's) drops or stretches a few
    /// milliseconds while it settles: the rest of the probe then sits a little earlier, which one
    /// whole-probe alignment would score as lost. Garbled audio (a wrong law, a wrong rate) scores
    /// low in every slot.
    /// The probe's leading silent slots are left out: they carry nothing, and a call whose media
    /// starts a little late (a TLS handshake, an SRTP answer) would otherwise leave the alignment no
    /// room before the first sound.
    static func correlation(_ fullProbe: [Int16], in haystack: [Int16], rate: Int = 8000) -> Double {
        let slotLength = rate / 10
        var silentSlots = 0
        while (silentSlots + 1) * slotLength <= fullProbe.count,
              fullProbe[silentSlots * slotLength..<(silentSlots + 1) * slotLength].allSatisfy({ $0 == 0 }) { silentSlots += 1 }
        let probe = Array(fullProbe.dropFirst(silentSlots * slotLength))
        let pe = envelope(probe, rate: rate), he = envelope(haystack, rate: rate)
        guard he.count >= pe.count, !pe.isEmpty else { return 0 }
        func ncc(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>) -> Double {
            let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
            var num = 0.0, da = 0.0, db = 0.0
            for (x, y) in zip(a, b) { num += (x - ma) * (y - mb); da += (x - ma) * (x - ma); db += (y - mb) * (y - mb) }
            return num / (sqrt(da * db) + 1e-9)
        }
        var bestFrame = 0, bestEnv = -2.0
        for lag in 0...(he.count - pe.count) {
            let c = ncc(pe[...], he[lag..<lag + pe.count])
            if c > bestEnv { bestEnv = c; bestFrame = lag }
        }
        let center = bestFrame * (rate / 50), slot = rate / 10, reach = rate * 60 / 1000
        var scores: [Double] = []
        for start in stride(from: 0, to: probe.count - slot + 1, by: slot) {
            let p = probe[start..<start + slot].map(Double.init)
            let pNorm = sqrt(p.reduce(0) { $0 + $1 * $1 })
            guard pNorm > 0 else { continue }
            var best = 0.0
            let at = center + start
            for lag in max(0, at - reach)...max(0, min(haystack.count - slot, at + reach)) where lag + slot <= haystack.count {
                var dot = 0.0, energy = 0.0
                for i in 0..<slot {
                    let h = Double(haystack[lag + i])
                    dot += p[i] * h
                    energy += h * h
                }
                best = max(best, dot / (sqrt(energy) * pNorm + 1e-9))
            }
            scores.append(best)
        }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }

    static func resample(_ x: [Int16], from: Int, to: Int) -> [Int16] {
        guard from != to, let r = try? Resampler(from: from, to: to) else { return x }
        return r.process(x)
    }
}
