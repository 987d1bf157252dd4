import Foundation
import Testing
@testable import SiphonAudio

/// Bit-exact against CPython's audioop (the reference is computed by the test run, not pasted in).
@Suite struct G711Tests {
    /// Runs python3's audioop over every 16-bit value (and every code byte) and returns its bytes.
    static func audioop(_ expression: String) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-W", "ignore", "-c", """
            import audioop, struct, sys
            lin = struct.pack('<65536h', *range(-32768, 32768))
            codes = bytes(range(256))
            sys.stdout.buffer.write(\(expression))
            """]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return [UInt8](data)
    }

    static let allSamples: [Int16] = (-32768...32767).map { Int16($0) }

    @Test func ulawEncodeMatchesAudioopForAll65536Inputs() throws {
        let reference = try Self.audioop("audioop.lin2ulaw(lin, 2)")
        #expect(reference.count == 65536)
        let ours = Self.allSamples.map(G711.ulawEncode)
        let mismatches = zip(ours, reference).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "first mismatch at \(mismatches.first.map { Int($0.offset) - 32768 } ?? 0)")
    }

    @Test func alawEncodeMatchesAudioopForAll65536Inputs() throws {
        let reference = try Self.audioop("audioop.lin2alaw(lin, 2)")
        let ours = Self.allSamples.map(G711.alawEncode)
        #expect(ours == reference)
    }

    @Test func decodeMatchesAudioopForAllCodes() throws {
        let u = try Self.audioop("audioop.ulaw2lin(codes, 2)")
        let a = try Self.audioop("audioop.alaw2lin(codes, 2)")
        let uRef = stride(from: 0, to: 512, by: 2).map { Int16(bitPattern: UInt16(u[$0]) | UInt16(u[$0 + 1]) << 8) }
        let aRef = stride(from: 0, to: 512, by: 2).map { Int16(bitPattern: UInt16(a[$0]) | UInt16(a[$0 + 1]) << 8) }
        #expect((0...255).map { G711.ulawDecode(UInt8($0)) } == uRef)
        #expect((0...255).map { G711.alawDecode(UInt8($0)) } == aRef)
    }

    @Test func bufferAPIsMatchScalarOnes() {
        let pcm = Signals.sine(440, rate: 8000, seconds: 0.02)
        var codes = [UInt8](repeating: 0, count: pcm.count)
        var back = [Int16](repeating: 0, count: pcm.count)
        for law in [G711.Law.ulaw, .alaw] {
            pcm.withUnsafeBufferPointer { p in codes.withUnsafeMutableBufferPointer { G711.encode(law, p, into: $0) } }
            codes.withUnsafeBufferPointer { c in back.withUnsafeMutableBufferPointer { G711.decode(law, c, into: $0) } }
            let scalar = pcm.map { law == .ulaw ? G711.ulawDecode(G711.ulawEncode($0)) : G711.alawDecode(G711.alawEncode($0)) }
            #expect(back == scalar)
        }
        #expect(G711.ulawDecode(G711.Law.ulaw.silence) == 0)
        #expect(abs(Int(G711.alawDecode(G711.Law.alaw.silence))) <= 8)
    }
}
