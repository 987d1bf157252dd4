/// Rejects unknown keys while decoding: a misspelt option must be an error, not silently ignored
/// (the original product's `system_prompt=` was dropped on the floor this way).
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ known: K.Type, in context: String) throws {
        let container = try self.container(keyedBy: AnyKey.self)
        let allowed = Set(K.allCases.map(\.stringValue))
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        if let first = unknown.first {
            throw SiphonError.invalid(
                "\(context): unknown key '\(first)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
