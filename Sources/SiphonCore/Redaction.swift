import Foundation

/// Removes secret values from text that may be stored or logged (dead-lettered raw jobs,
/// provider error bodies, URLs). Secrets never reach logs, errors or Redis records.
public enum Redaction {
    /// JSON keys whose string values are secrets.
    static let secretKeyPattern = try! NSRegularExpression(
        pattern: #""([A-Za-z_]*(password|passwd|secret|token|api_key|apikey|authorization|credential)[A-Za-z_]*)"\s*:\s*"((?:[^"\\]|\\.)*)""#,
        options: [.caseInsensitive])
    /// `scheme://user:password@host` userinfo.
    static let urlPassword = try! NSRegularExpression(pattern: #"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@"#, options: [.caseInsensitive])
    /// `Bearer xxx` / `Token xxx` credentials in headers.
    static let bearer = try! NSRegularExpression(pattern: #"\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]+"#, options: [])

    public static func redact(_ text: String) -> String {
        var s = text
        s = replace(secretKeyPattern, in: s, with: "\"$1\":\"[redacted]\"")
        s = replace(urlPassword, in: s, with: "$1[redacted]@")
        s = replace(bearer, in: s, with: "$1 [redacted]")
        return s
    }

    /// A URL safe to print: the password, if any, replaced.
    public static func url(_ url: String) -> String { replace(urlPassword, in: url, with: "$1[redacted]@") }

    private static func replace(_ re: NSRegularExpression, in s: String, with template: String) -> String {
        re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
    }
}
