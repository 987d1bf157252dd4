import CHiredis
import Foundation
import SiphonCore

/// One blocking hiredis connection. Not thread-safe: `RedisClient` confines each instance to its
/// own serial `DispatchQueue`, so blocking socket I/O never runs on Swift's cooperative pool.
final class RedisConnection {
    let url: RedisURL
    let connectTimeoutMs: Int
    let commandTimeoutMs: Int
    private var context: UnsafeMutablePointer<redisContext>?

    init(url: RedisURL, connectTimeoutMs: Int, commandTimeoutMs: Int) {
        self.url = url
        self.connectTimeoutMs = connectTimeoutMs
        self.commandTimeoutMs = commandTimeoutMs
    }

    deinit { close() }

    var isConnected: Bool { context != nil }

    func close() {
        if let c = context { redisFree(c) }
        context = nil
    }

    /// One connection attempt: TCP connect, socket timeouts, keep-alive, AUTH, SELECT.
    func connect() throws {
        close()
        guard let c = redisConnectWithTimeout(url.host, Int32(url.port), Self.makeTimeval(ms: connectTimeoutMs)) else {
            throw RedisError(.unavailable, "cannot allocate a hiredis context")
        }
        if c.pointee.err != 0 {
            let message = Self.errorString(c)
            redisFree(c)
            throw RedisError(.unavailable, "connect to \(url.host):\(url.port): \(message)")
        }
        redisSetTimeout(c, Self.makeTimeval(ms: commandTimeoutMs))
        redisEnableKeepAlive(c)
        context = c
        do {
            if let password = url.password {
                var args = ["AUTH"]
                if let user = url.username { args.append(user) }
                args.append(password)
                if case .error(let e) = try command(args) {
                    close()
                    // Redis' message ("WRONGPASS invalid username-password pair") has no secret in it.
                    throw RedisError(.authentication, e)
                }
            }
            if url.database != 0, case .error(let e) = try command(["SELECT", String(url.database)]) {
                close()
                throw RedisError(.authentication, "SELECT \(url.database): \(e)")
            }
        } catch let e as RedisError where e.code == .connectionLost {
            close()
            throw RedisError(.unavailable, e.message)
        }
    }

    /// Sends one command and waits for its reply. Error replies are returned, not thrown.
    func command(_ args: [String]) throws -> RedisReply {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        let raw = withArgv(args) { argc, argv, lens in redisCommandArgv(c, argc, argv, lens) }
        guard let raw else { throw lost(c) }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Pipelining: append every command to hiredis' output buffer, then read the replies in order.
    /// The first `redisGetReply` flushes the whole buffer in one write.
    func pipeline(_ commands: [[String]]) throws -> [RedisReply] {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        for args in commands {
            let rc = withArgv(args) { argc, argv, lens in redisAppendCommandArgv(c, argc, argv, lens) }
            guard rc == REDIS_OK else { throw lost(c) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(c, &raw) == REDIS_OK, let raw else { throw lost(c) }
            replies.append(RedisReply(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Like `pipeline`, but keeps only error messages (nil where the command succeeded, including
    /// inside an EXEC reply): for bulk writes, where converting every reply would cost more than the write.
    func pipelineErrors(_ commands: [[String]]) throws -> [String?] {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        for args in commands {
            let rc = withArgv(args) { argc, argv, lens in redisAppendCommandArgv(c, argc, argv, lens) }
            guard rc == REDIS_OK else { throw lost(c) }
        }
        var errors: [String?] = []
        errors.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(c, &raw) == REDIS_OK, let raw else { throw lost(c) }
            errors.append(Self.firstError(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return errors
    }

    private static func firstError(_ r: UnsafePointer<redisReply>) -> String? {
        switch r.pointee.type {
        case REDIS_REPLY_ERROR:
            return RedisReply(r).errorMessage
        case REDIS_REPLY_ARRAY:
            for i in 0..<r.pointee.elements {
                if let e = r.pointee.element[i], let m = firstError(e) { return m }
            }
            return nil
        default:
            return nil
        }
    }

    /// A failed context cannot be reused (hiredis README): drop it so the next call reconnects.
    private func lost(_ c: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = Self.errorString(c)
        close()
        return RedisError(.connectionLost, message.isEmpty ? "connection lost" : message)
    }

    private static func errorString(_ c: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: c.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    private static func makeTimeval(ms: Int) -> timeval {
        timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
    }

    /// Scratch space for argv, reused across commands (the connection is confined to one queue), so
    /// formatting a command allocates nothing once the buffers have grown. One struct, so one
    /// exclusivity check per command rather than one per buffer access.
    private struct ArgScratch {
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        var pointers: [UnsafePointer<CChar>?] = []

        mutating func with<R>(
            _ args: [String], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
        ) -> R {
            bytes.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            for a in args {
                let before = bytes.count
                bytes.append(contentsOf: a.utf8)
                lengths.append(bytes.count - before)
            }
            bytes.append(0)  // never empty, so baseAddress is never nil
            pointers.removeAll(keepingCapacity: true)
            return bytes.withUnsafeBufferPointer { buf in
                let base = UnsafeRawPointer(buf.baseAddress!)
                var offset = 0
                for n in lengths {
                    pointers.append(base.advanced(by: offset).assumingMemoryBound(to: CChar.self))
                    offset += n
                }
                return pointers.withUnsafeMutableBufferPointer { p in
                    lengths.withUnsafeBufferPointer { l in body(Int32(args.count), p.baseAddress!, l.baseAddress!) }
                }
            }
        }
    }

    private var scratch = ArgScratch()

    private func withArgv<R>(
        _ args: [String], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        scratch.with(args, body)
    }
}
