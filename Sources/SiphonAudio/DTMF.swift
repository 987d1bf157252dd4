import Foundation

/// DTMF tone pairs (ITU-T Q.23).
enum DTMF {
    static let rows: [Double] = [697, 770, 852, 941]
    static let columns: [Double] = [1209, 1336, 1477, 1633]
    static let keypad: [[Character]] = [["1", "2", "3", "A"], ["4", "5", "6", "B"], ["7", "8", "9", "C"], ["*", "0", "#", "D"]]

    static func frequencies(of digit: Character) -> (Double, Double)? {
        let d = Character(digit.uppercased())
        for (r, row) in keypad.enumerated() {
            if let c = row.firstIndex(of: d) { return (rows[r], columns[c]) }
        }
        return nil
    }
}

/// Generates DTMF tones (for carriers that need in-band digits), phase-continuous across calls.
public final class DTMFGenerator {
    public let sampleRate: Int
    /// Level of each of the two tones in dBFS (−12 dBFS ≈ the −10 dBm0 telephone norm on G.711).
    public var levelDB: Double

    public init(sampleRate: Int, levelDB: Double = -12) {
        self.sampleRate = sampleRate
        self.levelDB = levelDB
    }

    /// `seconds` of the tone pair for `digit` (nil for a character that is not a DTMF digit).
    public func tone(_ digit: Character, seconds: Double) -> [Int16]? {
        guard let (f1, f2) = DTMF.frequencies(of: digit) else { return nil }
        let amplitude = 32767 * pow(10, levelDB / 20)
        let n = Int(seconds * Double(sampleRate))
        let w1 = 2 * Double.pi * f1 / Double(sampleRate), w2 = 2 * Double.pi * f2 / Double(sampleRate)
        return (0..<n).map { i in
            let v = amplitude * (sin(w1 * Double(i)) + sin(w2 * Double(i)))
            return Int16(max(-32768, min(32767, v.rounded())))
        }
    }
}

/// In-band DTMF detection with Goertzel filters, one 20 ms frame at a time.
///
/// A frame holds a digit when the strongest row and column tones are both loud enough, dominate
/// their groups by 6 dB, stay within the twist limits (column up to 8 dB below or 4 dB above the
/// row), and carry most of the frame's energy — speech spreads its energy over many frequencies and
/// fails that last test. A digit is reported once, when two consecutive frames (40 ms, the Q.24
/// minimum) agree, and again only after the tone has stopped.
public final class DTMFDetector {
    public let sampleRate: Int
    public let frameSamples: Int
    /// Minimum level of each tone, dBFS.
    public var minimumToneDB: Double = -36
    /// Share of the frame's energy the two tones must carry.
    public var minimumToneShare: Double = 0.6

    private let rowCoefficients: [Double]
    private let columnCoefficients: [Double]
    private var candidate: Character?
    private var candidateFrames = 0
    private var reported: Character?
    private var quietFrames = 0

    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
        frameSamples = sampleRate / 50
        rowCoefficients = DTMF.rows.map { 2 * cos(2 * Double.pi * $0 / Double(sampleRate)) }
        columnCoefficients = DTMF.columns.map { 2 * cos(2 * Double.pi * $0 / Double(sampleRate)) }
    }

    /// Feeds one frame; returns a digit when one starts.
    public func process(_ samples: UnsafeBufferPointer<Int16>) -> Character? {
        let digit = classify(samples)
        if let digit {
            quietFrames = 0
            if digit == candidate { candidateFrames += 1 } else { candidate = digit; candidateFrames = 1 }
            if candidateFrames >= 2, reported != digit {
                reported = digit
                return digit
            }
        } else {
            candidate = nil
            candidateFrames = 0
            quietFrames += 1
            if quietFrames >= 2 { reported = nil }  // 40 ms of no tone ends the digit
        }
        return nil
    }

    public func process(_ samples: [Int16]) -> Character? { samples.withUnsafeBufferPointer { process($0) } }

    /// The digit this single frame carries, if any.
    func classify(_ x: UnsafeBufferPointer<Int16>) -> Character? {
        let n = min(x.count, frameSamples)
        var energy = 0.0
        for i in 0..<n { let v = Double(x[i]) / 32768; energy += v * v }
        guard energy > 0 else { return nil }
        // Goertzel power, scaled so a pure tone's value equals its energy in the frame.
        func power(_ coefficient: Double) -> Double {
            var s1 = 0.0, s2 = 0.0
            for i in 0..<n {
                let s = Double(x[i]) / 32768 + coefficient * s1 - s2
                s2 = s1
                s1 = s
            }
            return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) * 2 / Double(n)
        }
        var rows = (0, 0.0, 0.0)  // best index, best power, second best
        for (i, c) in rowCoefficients.enumerated() {
            let p = power(c)
            if p > rows.1 { rows = (i, p, rows.1) } else if p > rows.2 { rows.2 = p }
        }
        var cols = (0, 0.0, 0.0)
        for (i, c) in columnCoefficients.enumerated() {
            let p = power(c)
            if p > cols.1 { cols = (i, p, cols.1) } else if p > cols.2 { cols.2 = p }
        }
        let minimum = Double(n) * 0.5 * pow(10, minimumToneDB / 10)  // energy of a sine at that level
        guard rows.1 >= minimum, cols.1 >= minimum else { return nil }
        guard rows.1 >= 4 * rows.2, cols.1 >= 4 * cols.2 else { return nil }  // 6 dB over the others
        let twist = 10 * log10(cols.1 / rows.1)
        guard twist > -8, twist < 4 else { return nil }
        guard (rows.1 + cols.1) >= minimumToneShare * energy else { return nil }
        return DTMF.keypad[rows.0][cols.0]
    }

    public func reset() {
        candidate = nil
        candidateFrames = 0
        reported = nil
        quietFrames = 0
    }
}
