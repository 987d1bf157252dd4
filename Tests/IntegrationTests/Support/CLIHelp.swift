import Foundation

/// The CLI as it describes itself (`siphon --experimental-dump-help`, swift-argument-parser's JSON):
/// every command path with its options and their defaults — what the README is checked against.
struct CLIHelp {
    struct Option: Hashable {
        var name: String
        var defaultValue: String?
        var takesValue: Bool
        /// Neither defaulted nor optional: the command cannot run without it.
        var isRequired: Bool
    }

    /// "worker", "livekit trunks ensure", … → its options (long names, without "--").
    let commands: [String: [String: Option]]

    static func load() throws -> CLIHelp {
        let (status, out, err) = try SiphonProcess.run(["--experimental-dump-help"], redis: nil)
        guard status == 0, let root = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let command = root["command"] as? [String: Any] else {
            throw HarnessError("siphon --experimental-dump-help failed: \(err)")
        }
        var commands: [String: [String: Option]] = [:]
        func walk(_ c: [String: Any], path: [String]) {
            var options: [String: Option] = [:]
            for a in c["arguments"] as? [[String: Any]] ?? [] {
                let names = (a["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }.compactMap { $0["name"] as? String }
                for n in names {
                    options[n] = Option(name: n, defaultValue: a["defaultValue"] as? String, takesValue: a["kind"] as? String == "option",
                                        isRequired: a["isOptional"] as? Bool != true)
                }
            }
            if !path.isEmpty { commands[path.joined(separator: " ")] = options }
            for sub in c["subcommands"] as? [[String: Any]] ?? [] {
                if let name = sub["commandName"] as? String { walk(sub, path: path + [name]) }
            }
        }
        walk(command, path: [])
        return CLIHelp(commands: commands)
    }
}
