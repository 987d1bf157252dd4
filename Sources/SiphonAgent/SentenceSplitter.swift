import Foundation

/// Cuts a token stream into sentences so TTS can start on the first one while the model is still
/// writing the rest. Long clauses are cut at commas so the first audio is not held back.
public struct SentenceSplitter {
    private var buffer = ""
    public var maxClause = 120
    static let abbreviations: Set<String> = ["dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no."]

    public init() {}

    /// Adds text; returns the sentences it completed.
    public mutating func push(_ text: String) -> [String] {
        buffer += text
        var out: [String] = []
        while let cut = nextCut() {
            let sentence = String(buffer[..<cut]).trimmingCharacters(in: .whitespacesAndNewlines)
            buffer = String(buffer[cut...])
            if !sentence.isEmpty { out.append(sentence) }
        }
        return out
    }

    /// What is left at the end of the stream.
    public mutating func finish() -> String? {
        let rest = buffer.trimmingCharacters(in: .whitespacesAndNewlines)
        buffer = ""
        return rest.isEmpty ? nil : rest
    }

    private func nextCut() -> String.Index? {
        var i = buffer.startIndex
        while i < buffer.endIndex {
            let c = buffer[i]
            let next = buffer.index(after: i)
            if c == "\n" { return next }
            if ".!?".contains(c), next < buffer.endIndex, buffer[next] == " " || buffer[next] == "\n" {
                let word = buffer[..<next].split(separator: " ").last.map { $0.lowercased() } ?? ""
                if !Self.abbreviations.contains(word) { return next }
            }
            if c == ",", buffer.distance(from: buffer.startIndex, to: i) >= maxClause, next < buffer.endIndex { return next }
            i = next
        }
        return nil
    }
}

