import CHiredis
import Testing
@testable import SiphonRedis

/// Parses raw RESP2 through hiredis' own reader, then converts it: the reply model is tested
/// against the real parser without a server.
func parseRESP(_ text: String) -> RedisReply? {
    guard let reader = redisReaderCreate() else { return nil }
    defer { redisReaderFree(reader) }
    let bytes = Array(text.utf8)
    bytes.withUnsafeBufferPointer { buf in
        _ = buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { redisReaderFeed(reader, $0, bytes.count) }
    }
    var raw: UnsafeMutableRawPointer?
    guard redisReaderGetReply(reader, &raw) == REDIS_OK, let raw else { return nil }
    defer { freeReplyObject(raw) }
    return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
}

@Suite struct RedisReplyTests {
    @Test func scalars() {
        #expect(parseRESP("+OK\r\n") == .status("OK"))
        #expect(parseRESP("-ERR bad thing\r\n") == .error("ERR bad thing"))
        #expect(parseRESP(":-42\r\n") == .integer(-42))
        #expect(parseRESP("$-1\r\n") == .null)
        #expect(parseRESP("$5\r\nhello\r\n") == .bulk(Array("hello".utf8)))
        #expect(parseRESP("$0\r\n\r\n") == .bulk([]))
    }

    @Test func binarySafeBulk() {
        let reply = parseRESP("$3\r\na\u{0}b\r\n")
        #expect(reply == .bulk([0x61, 0x00, 0x62]))
    }

    @Test func nestedStreamReply() throws {
        // XREADGROUP shape: [[stream, [[id, [field, value]]]]]
        let text = "*1\r\n*2\r\n$5\r\ncalls\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$3\r\njob\r\n$2\r\n{}\r\n"
        let reply = try #require(parseRESP(text))
        let stream = try #require(reply.array?.first?.array)
        #expect(stream[0].string == "calls")
        let entry = try #require(stream[1].array?.first?.array)
        #expect(entry[0].string == "1-0")
        #expect(entry[1].fieldMap == ["job": "{}"])
    }

    @Test func nullArrayAndAccessors() {
        #expect(parseRESP("*-1\r\n") == .null)
        #expect(RedisReply.bulk(Array("17".utf8)).int == 17)
        #expect(RedisReply.integer(3).string == "3")
        #expect(RedisReply.status("x").errorMessage == nil)
        #expect(RedisReply.array([.bulk(Array("a".utf8)), .bulk(Array("1".utf8)), .bulk(Array("dangling".utf8))]).fieldMap == ["a": "1"])
    }
}

@Suite struct RedisURLTests {
    @Test func parsesForms() throws {
        let a = try RedisURL("redis://127.0.0.1:6390/2")
        #expect(a.host == "127.0.0.1" && a.port == 6390 && a.database == 2 && a.password == nil)
        let b = try RedisURL("redis://alice:p%40ss@redis.internal")
        #expect(b.username == "alice" && b.password == "p@ss" && b.port == 6379 && b.database == 0)
        let c = try RedisURL("redis://:secret@[::1]:7000")
        #expect(c.host == "::1" && c.port == 7000 && c.username == nil && c.password == "secret")
        #expect(!c.description.contains("secret"))
    }

    @Test(arguments: ["http://x", "redis://", "redis://h:99999", "redis://h:6379/x", "rediss://h:6379"])
    func rejectsBadURLs(_ text: String) {
        #expect(throws: (any Error).self) { try RedisURL(text) }
    }

    @Test func scriptSHAIsSHA1OfTheSource() {
        // sha1("return 1") as computed by redis-cli SCRIPT LOAD.
        #expect(RedisScript(name: "t", source: "return 1").sha == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}
