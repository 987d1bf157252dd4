import Foundation
import Synchronization
import Testing
import SiphonAudio
import SiphonCore

/// Recordings are written off the media clock, and a disk that fails stops the recording — never
/// the call or the worker (FileHandle.write traps on Linux: a full disk killed every call).
@Suite struct RecorderTests {
    @Test func aFullDiskIsAnErrorNotATrap() throws {
        // /dev/full: every write fails with ENOSPC, like a full disk (the header is the first).
        #expect(throws: SiphonError.self) { try WAVStreamWriter(path: "/dev/full", sampleRate: 8000, channels: 2) }
    }

    @Test func aRecorderStopsOnceAndTheCallerCarriesOn() async throws {
        let failures = Mutex<[String]>([])
        let recorder = CallRecorder(path: "/dev/full", sampleRate: 8000, channels: 2) { reason in failures.withLock { $0.append(reason) } }
        for _ in 0..<100 { recorder.append(interleaved: [Int16](repeating: 7, count: 320)) }
        await recorder.finish()
        #expect(recorder.failed)
        let reasons = failures.withLock { $0 }
        #expect(reasons.count == 1 && reasons[0].contains("No space left on device"), "\(reasons)")
        recorder.append(interleaved: [1, 2])  // dropped, no crash
    }

    @Test func aPathThatCannotBeCreatedIsReportedToo() async {
        let failures = Mutex<[String]>([])
        let recorder = CallRecorder(path: "/nonexistent-dir/x.wav", sampleRate: 8000, channels: 1) { r in failures.withLock { $0.append(r) } }
        recorder.append(interleaved: [1, 2, 3])
        await recorder.finish()
        #expect(failures.withLock { $0.count } == 1 && recorder.failed)
    }

    @Test func aGoodRecordingIsAValidWAV() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString.prefix(8)).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = CallRecorder(path: path, sampleRate: 8000, channels: 2) { r in Issue.record("unexpected failure: \(r)") }
        for i in 0..<50 { recorder.append(interleaved: [Int16](repeating: Int16(i), count: 320)) }
        await recorder.finish()
        let wav = try WAVFile.read(path)
        // Stereo is folded to mono by the reader: 50 frames of 160 samples.
        #expect(wav.sampleRate == 8000 && wav.samples.count == 50 * 160)
        #expect(wav.samples.last == 49)
    }

    /// Two clocks' halves of a call (LiveKit v0): frames paired in order whichever side ticks
    /// first; a side that stops ticking is silence once the other is `maxLagFrames` ahead.
    @Test func twoClocksArePairedFrameByFrame() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString.prefix(8)).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = CallRecorder(path: path, sampleRate: 8000, channels: 2) { r in Issue.record("unexpected failure: \(r)") }
        let joined = TwoClockRecording(recorder: recorder, maxLagFrames: 3)
        for i in 1...20 {
            // The sent side runs two frames behind, and sends nothing on every fifth tick.
            joined.heard([Int16](repeating: Int16(i), count: 160))
            if i > 2 { joined.sent(i % 5 == 0 ? nil : [Int16](repeating: Int16(-(i - 2)), count: 160), count: 160) }
        }
        for i in 21...30 { joined.heard([Int16](repeating: Int16(i), count: 160)) }  // the sent side stopped
        await recorder.finish()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).dropFirst(44))
        let samples = stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
        let frames = stride(from: 0, to: samples.count, by: 320).map { (left: samples[$0], right: samples[$0 + 1]) }
        #expect(frames.count == 27, "the 3 frames still waiting for their pair are not written")
        for (n, f) in frames.enumerated() {
            let i = n + 1
            #expect(f.left == Int16(i), "frame \(i): \(f)")
            let sent: Int16 = i > 18 ? 0 : ((i + 2) % 5 == 0 ? 0 : Int16(-i))
            #expect(f.right == sent, "frame \(i): \(f)")
        }
    }

    /// A tick's stereo frame: each side cut or padded to the frame's length, nil as silence.
    @Test func aStereoFrameIsCutAndPaddedToItsLength() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString.prefix(8)).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = CallRecorder(path: path, sampleRate: 8000, channels: 2) { r in Issue.record("unexpected failure: \(r)") }
        recorder.append(left: [1, 2, 3, 4, 5], right: [9], count: 4)
        recorder.append(left: nil, right: [7, 7, 7, 7], count: 4)
        await recorder.finish()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).dropFirst(44))
        let samples = stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
        #expect(samples == [1, 9, 2, 0, 3, 0, 4, 0, 0, 7, 0, 7, 0, 7, 0, 7])
    }
}
