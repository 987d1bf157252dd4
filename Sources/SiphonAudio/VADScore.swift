/// Frame-level precision, recall and F1 of a detector's decisions against labels.
public struct VADScore: Sendable, Codable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var frames: Int

    public init(predicted: [Bool], labels: [Bool]) {
        let n = min(predicted.count, labels.count)
        var tp = 0, fp = 0, fn = 0
        for i in 0..<n {
            switch (predicted[i], labels[i]) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            default: break
            }
        }
        precision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
        recall = tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        frames = n
    }

    /// Runs a detector over PCM16 audio frame by frame and returns each frame's state.
    public static func decisions(_ samples: [Int16], detector: VoiceActivityDetector) -> [Bool] {
        let n = detector.frameSamples
        var out: [Bool] = []
        out.reserveCapacity(samples.count / n)
        samples.withUnsafeBufferPointer { all in
            var i = 0
            while i + n <= all.count {
                out.append(detector.process(UnsafeBufferPointer(rebasing: all[i..<i + n])).isSpeech)
                i += n
            }
        }
        return out
    }
}
