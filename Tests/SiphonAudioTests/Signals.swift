import Foundation

/// Test signals.
enum Signals {
    static func sine(_ hz: Double, rate: Int, seconds: Double, amplitude: Double = 10000, phase: Double = 0) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { Int16((amplitude * sin(2 * Double.pi * hz * Double($0) / Double(rate) + phase)).rounded()) }
    }

    /// A voiced-speech-like buzz: fundamental `f0` and `harmonics` overtones falling off as 1/k.
    static func harmonic(_ f0: Double, rate: Int, seconds: Double, amplitude: Double = 3000, harmonics: Int = 10) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { i in
            let t = Double(i) / Double(rate)
            var v = 0.0
            for k in 1...harmonics { v += sin(2 * Double.pi * f0 * Double(k) * t) / Double(k) }
            return Int16(v * amplitude)
        }
    }

    /// Deterministic white noise (xorshift), so failures reproduce.
    static func noise(count: Int, amplitude: Double, seed: UInt64 = 0x9E3779B97F4A7C15) -> [Int16] {
        var x = seed
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return Int16((Double(x % 20001) / 10000 - 1) * amplitude)
        }
    }

    static func mix(_ a: [Int16], _ b: [Int16]) -> [Int16] {
        zip(a, b).map { Int16(max(-32768, min(32767, Int($0) + Int($1)))) }
    }

    static func rms(_ x: some Collection<Int16>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, x.count))).squareRoot()
    }

    static func db(_ ratio: Double) -> Double { 20 * log10(ratio) }

    static func frames(_ x: [Int16], size: Int) -> [[Int16]] {
        stride(from: 0, to: x.count - size + 1, by: size).map { Array(x[$0..<$0 + size]) }
    }
}
