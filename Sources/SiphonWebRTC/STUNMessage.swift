import Foundation

/// A STUN message (RFC 8489) with the attributes ICE (RFC 8445) and TURN (RFC 8656) use.
/// Parsing checks the header, the length and every attribute's bounds; integrity and fingerprint
/// are checked against the raw bytes they were computed over.
public struct STUNMessage: Sendable, Equatable {
    public static let magicCookie: UInt32 = 0x2112_A442

    public enum Class: UInt16, Sendable {
        case request = 0x0000
        case indication = 0x0010
        case success = 0x0100
        case error = 0x0110
    }

    public struct Method: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let binding = Method(rawValue: 0x001)
        public static let allocate = Method(rawValue: 0x003)
        public static let refresh = Method(rawValue: 0x004)
        public static let send = Method(rawValue: 0x006)
        public static let data = Method(rawValue: 0x007)
        public static let createPermission = Method(rawValue: 0x008)
        public static let channelBind = Method(rawValue: 0x009)
    }

    public struct AttributeType: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let mappedAddress = AttributeType(rawValue: 0x0001)
        public static let username = AttributeType(rawValue: 0x0006)
        public static let messageIntegrity = AttributeType(rawValue: 0x0008)
        public static let errorCode = AttributeType(rawValue: 0x0009)
        public static let unknownAttributes = AttributeType(rawValue: 0x000A)
        public static let channelNumber = AttributeType(rawValue: 0x000C)
        public static let lifetime = AttributeType(rawValue: 0x000D)
        public static let xorPeerAddress = AttributeType(rawValue: 0x0012)
        public static let data = AttributeType(rawValue: 0x0013)
        public static let realm = AttributeType(rawValue: 0x0014)
        public static let nonce = AttributeType(rawValue: 0x0015)
        public static let xorRelayedAddress = AttributeType(rawValue: 0x0016)
        public static let requestedTransport = AttributeType(rawValue: 0x0019)
        public static let xorMappedAddress = AttributeType(rawValue: 0x0020)
        public static let priority = AttributeType(rawValue: 0x0024)
        public static let useCandidate = AttributeType(rawValue: 0x0025)
        public static let software = AttributeType(rawValue: 0x8022)
        public static let fingerprint = AttributeType(rawValue: 0x8028)
        public static let iceControlled = AttributeType(rawValue: 0x8029)
        public static let iceControlling = AttributeType(rawValue: 0x802A)
    }

    public struct Attribute: Sendable, Equatable {
        public var type: AttributeType
        public var value: [UInt8]
        public init(_ type: AttributeType, _ value: [UInt8]) { (self.type, self.value) = (type, value) }
    }

    public var method: Method
    public var messageClass: Class
    /// 12 bytes.
    public var transactionID: [UInt8]
    /// In order; MESSAGE-INTEGRITY and FINGERPRINT are added by `serialized`, not kept here.
    public var attributes: [Attribute]

    public init(method: Method, class messageClass: Class, transactionID: [UInt8] = STUNMessage.newTransactionID(), attributes: [Attribute] = []) {
        (self.method, self.messageClass, self.transactionID, self.attributes) = (method, messageClass, transactionID, attributes)
    }

    public static func newTransactionID() -> [UInt8] { (0..<12).map { _ in UInt8.random(in: 0...255) } }

    /// RFC 7983: STUN starts with 0–3, and carries the magic cookie.
    public static func looksLikeSTUN(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 20 && bytes[0] < 4 && UInt32(bigEndian: bytes, at: 4) == magicCookie
    }

    // MARK: parsing

    public init(parsing bytes: [UInt8]) throws {
        guard bytes.count >= 20 else { throw WebRTCError.malformed("STUN message shorter than its header") }
        guard bytes[0] & 0xC0 == 0 else { throw WebRTCError.malformed("not a STUN message (first bits)") }
        guard UInt32(bigEndian: bytes, at: 4) == Self.magicCookie else { throw WebRTCError.malformed("STUN magic cookie missing") }
        let type = UInt16(bigEndian: bytes, at: 0)
        let length = Int(UInt16(bigEndian: bytes, at: 2))
        guard length % 4 == 0, 20 + length == bytes.count else {
            throw WebRTCError.malformed("STUN length \(length) does not match the \(bytes.count)-byte datagram")
        }
        // Method bits M0-M11 are interleaved with class bits C0 (bit 4) and C1 (bit 8).
        let methodBits = (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2)
        method = Method(rawValue: methodBits)
        messageClass = Class(rawValue: type & 0x0110)!
        transactionID = Array(bytes[8..<20])
        var attributes: [Attribute] = []
        var offset = 20
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw WebRTCError.malformed("STUN attribute header truncated") }
            let t = AttributeType(rawValue: UInt16(bigEndian: bytes, at: offset))
            let n = Int(UInt16(bigEndian: bytes, at: offset + 2))
            guard offset + 4 + n <= bytes.count else { throw WebRTCError.malformed("STUN attribute 0x\(String(t.rawValue, radix: 16)) runs past the message") }
            attributes.append(Attribute(t, Array(bytes[(offset + 4)..<(offset + 4 + n)])))
            offset += 4 + (n + 3) / 4 * 4
            guard attributes.count <= 64 else { throw WebRTCError.malformed("more than 64 STUN attributes") }
        }
        self.attributes = attributes
    }

    public func attribute(_ type: AttributeType) -> [UInt8]? { attributes.first { $0.type == type }?.value }
    public func has(_ type: AttributeType) -> Bool { attributes.contains { $0.type == type } }

    // MARK: serialising (integrity in STUNIntegrity.swift)

    /// The message with its attributes, the length field counting `extra` more bytes (the
    /// MESSAGE-INTEGRITY and FINGERPRINT that follow).
    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        let m = method.rawValue
        let type = (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | messageClass.rawValue
        out.appendBigEndian(type)
        out.appendBigEndian(UInt16(0))  // length, set by the caller
        out.appendBigEndian(Self.magicCookie)
        out += transactionID
        for a in attributes { Self.append(a, to: &out) }
        Self.setLength(&out, out.count - 20)
        return out
    }

    static func append(_ a: Attribute, to out: inout [UInt8]) {
        out.appendBigEndian(a.type.rawValue)
        out.appendBigEndian(UInt16(a.value.count))
        out += a.value
        out += [UInt8](repeating: 0, count: (4 - a.value.count % 4) % 4)
    }

    static func setLength(_ out: inout [UInt8], _ length: Int) {
        out[2] = UInt8(length >> 8)
        out[3] = UInt8(length & 0xFF)
    }

    /// FINGERPRINT appended (RFC 8489 §14.7): CRC-32 of all before it XOR 0x5354554E.
    static func appendFingerprint(_ out: inout [UInt8]) {
        setLength(&out, out.count - 20 + 8)
        let crc = CRC32.ieee(out) ^ 0x5354_554E
        var value = [UInt8]()
        value.appendBigEndian(crc)
        append(Attribute(.fingerprint, value), to: &out)
    }

    /// RFC 8489 §14.7: true when FINGERPRINT is absent or right.
    public static func verifyFingerprint(_ raw: [UInt8]) -> Bool {
        guard let offset = attributeOffset(raw, .fingerprint) else { return true }
        guard offset + 8 == raw.count else { return false }  // it is always last
        var covered = Array(raw[0..<offset])
        setLength(&covered, offset - 20 + 8)
        return CRC32.ieee(covered) ^ 0x5354_554E == UInt32(bigEndian: raw, at: offset + 4)
    }

    /// Where an attribute starts in a raw message that parsed.
    static func attributeOffset(_ raw: [UInt8], _ type: AttributeType) -> Int? {
        var offset = 20
        while offset + 4 <= raw.count {
            if UInt16(bigEndian: raw, at: offset) == type.rawValue { return offset }
            offset += 4 + (Int(UInt16(bigEndian: raw, at: offset + 2)) + 3) / 4 * 4
        }
        return nil
    }
}

// MARK: typed attributes

extension STUNMessage {
    public var username: String? { attribute(.username).map { String(decoding: $0, as: UTF8.self) } }
    public var realm: String? { attribute(.realm).map { String(decoding: $0, as: UTF8.self) } }
    public var nonce: String? { attribute(.nonce).map { String(decoding: $0, as: UTF8.self) } }

    public var priority: UInt32? {
        guard let v = attribute(.priority), v.count == 4 else { return nil }
        return UInt32(bigEndian: v, at: 0)
    }

    public var lifetime: UInt32? {
        guard let v = attribute(.lifetime), v.count == 4 else { return nil }
        return UInt32(bigEndian: v, at: 0)
    }

    /// ICE-CONTROLLING / ICE-CONTROLLED tie-breaker.
    public func tieBreaker(_ type: AttributeType) -> UInt64? {
        guard let v = attribute(type), v.count == 8 else { return nil }
        return UInt64(bigEndian: v, at: 0)
    }

    /// ERROR-CODE (class × 100 + number) and reason.
    public var errorCode: (code: Int, reason: String)? {
        guard let v = attribute(.errorCode), v.count >= 4 else { return nil }
        return (Int(v[2] & 0x07) * 100 + Int(v[3]), String(decoding: v[4...], as: UTF8.self))
    }

    public func xorAddress(_ type: AttributeType) -> TransportAddress? {
        guard let v = attribute(type) else { return nil }
        return try? Self.decodeXORAddress(v, transactionID: transactionID)
    }

    static func decodeXORAddress(_ v: [UInt8], transactionID: [UInt8]) throws -> TransportAddress {
        guard v.count >= 8 else { throw WebRTCError.malformed("XOR address too short") }
        let port = Int(UInt16(bigEndian: v, at: 2) ^ UInt16(magicCookie >> 16))
        var cookie = [UInt8]()
        cookie.appendBigEndian(magicCookie)
        switch v[1] {
        case 0x01:
            guard v.count == 8 else { throw WebRTCError.malformed("IPv4 XOR address of \(v.count) bytes") }
            return try TransportAddress(bytes: (0..<4).map { v[4 + $0] ^ cookie[$0] }, port: port)
        case 0x02:
            guard v.count == 20 else { throw WebRTCError.malformed("IPv6 XOR address of \(v.count) bytes") }
            let mask = cookie + transactionID
            return try TransportAddress(bytes: (0..<16).map { v[4 + $0] ^ mask[$0] }, port: port)
        default:
            throw WebRTCError.malformed("address family \(v[1])")
        }
    }

    static func encodeXORAddress(_ a: TransportAddress, transactionID: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, a.isIPv6 ? 0x02 : 0x01]
        out.appendBigEndian(UInt16(a.port) ^ UInt16(magicCookie >> 16))
        var mask = [UInt8]()
        mask.appendBigEndian(magicCookie)
        mask += transactionID
        out += a.bytes.enumerated().map { $0.element ^ mask[$0.offset] }
        return out
    }

    public mutating func add(_ type: AttributeType, _ value: [UInt8]) { attributes.append(Attribute(type, value)) }
    public mutating func add(_ type: AttributeType, string: String) { add(type, Array(string.utf8)) }
    public mutating func add(_ type: AttributeType, uint32 v: UInt32) { var b = [UInt8](); b.appendBigEndian(v); add(type, b) }
    public mutating func add(_ type: AttributeType, uint64 v: UInt64) { var b = [UInt8](); b.appendBigEndian(v); add(type, b) }
    public mutating func add(_ type: AttributeType, address: TransportAddress) { add(type, Self.encodeXORAddress(address, transactionID: transactionID)) }
    public mutating func addError(_ code: Int, _ reason: String) { add(.errorCode, [0, 0, UInt8(code / 100), UInt8(code % 100)] + Array(reason.utf8)) }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        var big = v.bigEndian
        Swift.withUnsafeBytes(of: &big) { append(contentsOf: $0) }
    }
}

extension FixedWidthInteger {
    /// Reads a big-endian integer at `offset` (the caller checked the bounds).
    init(bigEndian bytes: some RandomAccessCollection<UInt8>, at offset: Int) {
        var v: Self = 0
        let start = bytes.index(bytes.startIndex, offsetBy: offset)
        for i in 0..<(Self.bitWidth / 8) { v = v << 8 | Self(bytes[bytes.index(start, offsetBy: i)]) }
        self = v
    }
}
