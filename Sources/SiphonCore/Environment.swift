import Foundation

/// Process environment plus an optional `.env` file (12-factor; the process environment wins).
public struct Environment: Sendable {
    public private(set) var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    /// A copy with `key` set (when `value` is non-nil), e.g. from a command-line flag that overrides it.
    public func setting(_ key: String, _ value: String?) -> Environment {
        guard let value else { return self }
        var copy = self
        copy.values[key] = value
        return copy
    }

    /// The process environment alone.
    public static var process: Environment { Environment(ProcessInfo.processInfo.environment) }

    /// The process environment, with `.env` (if present at `dotenvPath`) filling the gaps.
    public static func load(dotenvPath: String? = ".env") throws -> Environment {
        var merged: [String: String] = [:]
        if let path = dotenvPath, FileManager.default.fileExists(atPath: path) {
            merged = try parseDotenv(String(contentsOfFile: path, encoding: .utf8), source: path)
        }
        // An empty variable in the process environment counts as unset (compose and shells pass
        // them for declared-but-blank settings), so it does not blank out the file's value.
        for (k, v) in ProcessInfo.processInfo.environment where !v.isEmpty { merged[k] = v }
        return Environment(merged)
    }

    public subscript(key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    /// Parses `KEY=value` lines: `export ` prefixes, `#` comments, single or double quotes.
    /// Errors name the line, never its value (it may be a secret).
    public static func parseDotenv(_ text: String, source: String = ".env") throws -> [String: String] {
        var out: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else {
                throw SiphonError(.configuration, "\(source):\(index + 1): expected KEY=value")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !(key.first!.isNumber) else {
                throw SiphonError(.configuration, "\(source):\(index + 1): '\(key.prefix(40))' is not a valid variable name")
            }
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let q = value.first, q == "\"" || q == "'" {
                guard value.count >= 2, value.last == q else {
                    throw SiphonError(.configuration, "\(source):\(index + 1): unterminated quote in \(key)")
                }
                value = String(value.dropFirst().dropLast())
                if q == "\"" { value = value.replacingOccurrences(of: "\\n", with: "\n") }
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            out[key] = value
        }
        return out
    }
}
