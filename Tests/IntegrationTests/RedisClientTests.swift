import Foundation
import SiphonCore
import Logging
import Testing
@testable import SiphonRedis

@Suite(.serialized, .timeLimit(.minutes(2)))
struct RedisClientTests {
    func quietLogger() -> Logger {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }

    @Test func commandsAndPipelining() async throws {
        let server = try RedisServer()
        let client = RedisClient(url: server.url, connections: 2, logger: quietLogger())
        try await client.send("SET", "k", "v\u{0}binary")
        #expect(try await client.send("GET", "k").string == "v\u{0}binary")
        let replies = try await client.pipeline([["INCR", "n"], ["INCR", "n"], ["LPUSH", "k", "x"], ["GET", "n"]])
        #expect(replies[0] == .integer(1) && replies[1] == .integer(2))
        #expect(replies[2].errorMessage?.hasPrefix("WRONGTYPE") == true)  // error stays in its place
        #expect(replies[3].string == "2")
        await #expect(throws: RedisError.self) { try await client.send("LPUSH", "k", "x") }
    }

    @Test func scriptsRunBySHAAndReloadAfterFlush() async throws {
        let server = try RedisServer()
        let client = RedisClient(url: server.url, logger: quietLogger())
        let script = RedisScript(name: "add", source: "return tonumber(ARGV[1]) + tonumber(ARGV[2])")
        try await client.load([script])
        #expect(try await client.eval(script, args: ["2", "3"]) == .integer(5))
        try await client.send("SCRIPT", "FLUSH")
        #expect(try await client.eval(script, args: ["4", "5"]) == .integer(9))  // NOSCRIPT → loaded again
        try await client.send("SCRIPT", "FLUSH")
        let batch = try await client.evalPipeline([(script, [], ["1", "1"]), (script, [], ["2", "2"])])
        #expect(batch == [.integer(2), .integer(4)])
    }

    @Test func authenticatesAndReportsAuthFailuresWithoutTheSecret() async throws {
        let server = try RedisServer(password: "s3cret-pw")
        let good = RedisClient(url: server.url, logger: quietLogger())
        #expect(try await good.send("PING") == .status("PONG"))
        var wrong = server.url
        wrong.password = "nope-nope"
        let bad = RedisClient(RedisClient.Configuration(url: wrong, reconnectWindowMs: 200), logger: quietLogger())
        do {
            try await bad.send("PING")
            Issue.record("wrong password accepted")
        } catch let e as RedisError {
            #expect(e.code == .authentication)
            #expect(!e.description.contains("nope-nope"))
        }
        var none = server.url
        none.password = nil
        await #expect(throws: RedisError.self) { try await RedisClient(url: none, logger: quietLogger()).send("GET", "x") }
    }

    @Test func reconnectsAfterARestartAndKeepsAOFData() async throws {
        let server = try RedisServer()
        let client = RedisClient(RedisClient.Configuration(url: server.url, connections: 1, reconnectWindowMs: 10_000), logger: quietLogger())
        try await client.send("SET", "survives", "yes")
        try server.restart(downFor: 0.3)
        // The old socket is dead: the first command may report the loss; the next reconnects.
        if (try? await client.send("PING")) == nil { _ = try await client.send("PING") }
        #expect(try await client.send("GET", "survives").string == "yes")
    }

    @Test func failsWithUnavailableWhenNothingListens() async throws {
        let client = RedisClient(RedisClient.Configuration(url: RedisURL(host: "127.0.0.1", port: LoopbackPort.free()), reconnectWindowMs: 300),
                                 logger: quietLogger())
        do {
            try await client.send("PING")
            Issue.record("connected to nothing")
        } catch let e as RedisError {
            #expect(e.code == .unavailable)
        }
    }

    @Test func aBlockingCommandDoesNotStallOthers() async throws {
        let server = try RedisServer()
        let client = RedisClient(url: server.url, connections: 2, logger: quietLogger())
        try await client.send("PING")
        async let blocked = client.send("BLPOP", "never", "2")
        try await Task.sleep(for: .milliseconds(100))
        // The second connection answers while the first is parked in BLPOP.
        #expect(try await client.send("PING") == .status("PONG"))
        try await client.send("RPUSH", "never", "now")
        #expect(try await blocked.array?.last?.string == "now")
    }
}
