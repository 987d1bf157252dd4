import Foundation

/// SplitMix64: a small deterministic generator, for generated test signals and test inputs that
/// must be the same on every run and machine. Not for anything secret.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-12), u2 = Double(next() >> 11) / Double(1 << 53)
        return sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
    }

    /// `seed` with one to six random edits — a byte replaced, flipped, inserted or the tail cut —
    /// or, now and then, replaced by noise: inputs near valid ones, for hostile-input tests.
    public mutating func mutated(_ seed: [UInt8]) -> [UInt8] {
        var b = seed
        for _ in 0..<Int.random(in: 1...6, using: &self) {
            switch Int.random(in: 0..<5, using: &self) {
            case 0 where !b.isEmpty: b[Int.random(in: 0..<b.count, using: &self)] = UInt8.random(in: 0...255, using: &self)
            case 1 where !b.isEmpty: b.removeLast(Int.random(in: 0...b.count, using: &self))
            case 2: b.insert(contentsOf: (0..<Int.random(in: 1...40, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) },
                             at: Int.random(in: 0...b.count, using: &self))
            case 3 where !b.isEmpty: b[Int.random(in: 0..<b.count, using: &self)] ^= 1 << UInt8.random(in: 0...7, using: &self)
            default: b = (0..<Int.random(in: 0...64, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) }
            }
        }
        return b
    }
}
