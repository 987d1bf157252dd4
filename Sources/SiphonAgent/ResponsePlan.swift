/// The response being spoken, in the order it went into the line's queue: sentences with the
/// frames each took, and fillers (frames, no words). Says what the caller heard of it when it is
/// cut off, and what it says when it played out.
struct ResponsePlan {
    private(set) var parts: [(text: String, frames: Int)] = []

    var isEmpty: Bool { parts.isEmpty }

    mutating func sentence(_ text: String, frames: Int) { parts.append((text, frames)) }

    /// A filler's frames: heard, but never part of the turn.
    mutating func filler(frames: Int) { parts.append(("", frames)) }

    /// Its words (fillers left out).
    var text: String { parts.map(\.text).filter { !$0.isEmpty }.joined(separator: " ") }

    /// What the caller heard after `heardFrames` frames of it went out, and what was left unsaid
    /// (a sentence cut part-way is split by the share of its frames played).
    func split(heardFrames: Int) -> (heard: String, remaining: String) {
        var left = heardFrames
        var heard: [String] = []
        var remaining: [String] = []
        for (text, n) in parts {
            if left >= n {
                heard.append(text)
                left -= n
            } else if left > 0 {
                let words = text.split(separator: " ")
                let k = Int(Double(words.count) * Double(left) / Double(max(1, n)))
                heard.append(words.prefix(k).joined(separator: " "))
                remaining.append(words.dropFirst(k).joined(separator: " "))
                left = 0
            } else {
                remaining.append(text)
            }
        }
        return (heard.filter { !$0.isEmpty }.joined(separator: " "), remaining.filter { !$0.isEmpty }.joined(separator: " "))
    }
}
