import Foundation
import SiphonCore
import Yams

/// A YAML value with the path it came from, for error messages that name the key
/// (`agents[1].llm.temperature: expected a number`).
public struct ConfigValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case list([ConfigValue])
        case map([(String, ConfigValue)])
        case null

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case (.string(let x), .string(let y)): x == y
            case (.number(let x), .number(let y)): x == y
            case (.bool(let x), .bool(let y)): x == y
            case (.list(let x), .list(let y)): x == y
            case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            case (.null, .null): true
            default: false
            }
        }
    }

    public var kind: Kind
    public var path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    static func parse(yaml: String, source: String) throws -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw SiphonError(.configuration, "\(source): not valid YAML (\(String(describing: error).prefix(200)))")
        }
        guard let node else { throw SiphonError(.configuration, "\(source) is empty") }
        return try from(node, path: "")
    }

    static func from(_ node: Node, path: String) throws -> ConfigValue {
        switch node {
        case .scalar(let s):
            let text = s.string
            if s.style == .plain {
                if let b = Bool.construct(from: s) { return ConfigValue(kind: .bool(b), path: path) }
                if let i = Int.construct(from: s) { return ConfigValue(kind: .number(Double(i)), path: path) }
                if let d = Double.construct(from: s), !text.isEmpty, text.first!.isNumber || text.first == "-" || text.first == "." {
                    return ConfigValue(kind: .number(d), path: path)
                }
                if text == "~" || text == "null" || text.isEmpty { return ConfigValue(kind: .null, path: path) }
            }
            return ConfigValue(kind: .string(text), path: path)
        case .sequence(let seq):
            return ConfigValue(kind: .list(try seq.enumerated().map { try from($0.element, path: "\(path)[\($0.offset)]") }), path: path)
        case .mapping(let map):
            var items: [(String, ConfigValue)] = []
            var seen = Set<String>()
            for (k, v) in map {
                guard let key = k.string else { throw SiphonError(.configuration, "\(path.isEmpty ? "top level" : path): keys must be strings") }
                guard seen.insert(key).inserted else { throw SiphonError(.configuration, "\(join(path, key)): appears twice") }
                items.append((key, try from(v, path: join(path, key))))
            }
            return ConfigValue(kind: .map(items), path: path)
        @unknown default:
            throw SiphonError(.configuration, "\(path): unsupported YAML construct")
        }
    }

    public static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: typed access

    func fail(_ expectation: String) -> SiphonError { SiphonError(.configuration, "\(path.isEmpty ? "top level" : path): \(expectation)") }

    public func string() throws -> String {
        switch kind {
        case .string(let s): return s
        case .number(let d): return d == d.rounded() ? String(Int(d)) : String(d)
        default: throw fail("expected text")
        }
    }

    public func number() throws -> Double {
        if case .number(let d) = kind { return d }
        throw fail("expected a number")
    }

    public func int() throws -> Int {
        let d = try number()
        guard d == d.rounded() else { throw fail("expected a whole number") }
        return Int(d)
    }

    public func bool() throws -> Bool {
        if case .bool(let b) = kind { return b }
        throw fail("expected true or false")
    }

    public func list() throws -> [ConfigValue] {
        if case .list(let l) = kind { return l }
        throw fail("expected a list")
    }

    public func strings() throws -> [String] { try list().map { try $0.string() } }

    /// A map whose keys must all be in `allowed`: an unknown key is an error, not silently ignored.
    public func map(allowed: Set<String>) throws -> ConfigMap {
        guard case .map(let items) = kind else { throw fail("expected a mapping") }
        for (k, _) in items where !allowed.contains(k) {
            throw SiphonError(.configuration, "\(Self.join(path, k)): unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        return ConfigMap(path: path, items: items)
    }

    /// JSON text for this value (tool parameter schemas).
    public func json() -> String {
        func any(_ v: ConfigValue) -> Any {
            switch v.kind {
            case .string(let s): return s
            case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? Int(d) as Any : d as Any
            case .bool(let b): return b
            case .list(let l): return l.map(any)
            case .map(let m): return Dictionary(m.map { ($0.0, any($0.1)) }, uniquingKeysWith: { a, _ in a })
            case .null: return NSNull()
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: any(self), options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A checked mapping: typed getters that name the key on error.
public struct ConfigMap: Sendable {
    public let path: String
    let items: [(String, ConfigValue)]

    public subscript(key: String) -> ConfigValue? { items.first { $0.0 == key }?.1 }

    public func require(_ key: String) throws -> ConfigValue {
        guard let v = self[key], v.kind != .null else { throw SiphonError(.configuration, "\(ConfigValue.join(path, key)): required") }
        return v
    }

    public func string(_ key: String) throws -> String? { try self[key].flatMap { $0.kind == .null ? nil : try $0.string() } }
    public func number(_ key: String) throws -> Double? { try self[key].flatMap { $0.kind == .null ? nil : try $0.number() } }
    public func int(_ key: String) throws -> Int? { try self[key].flatMap { $0.kind == .null ? nil : try $0.int() } }
    public func bool(_ key: String) throws -> Bool? { try self[key].flatMap { $0.kind == .null ? nil : try $0.bool() } }
    public func strings(_ key: String) throws -> [String]? { try self[key].flatMap { $0.kind == .null ? nil : try $0.strings() } }
    public var keys: [String] { items.map(\.0) }
}
