import Testing
@testable import SiphonWebRTC

/// Two peers in this process over loopback: what the media clock does when the conversation
/// stops reading the caller's audio.
@Suite(.timeLimit(.minutes(1)))
struct WebRTCPeerTests {
    static func connectedPair() async throws -> (WebRTCPeer, WebRTCPeer) {
        func peer(_ role: ICEAgent.Role) async throws -> WebRTCPeer {
            var c = WebRTCPeer.Configuration(role: role)
            c.hostAddresses = ["127.0.0.1"]
            return try await WebRTCPeer.start(c)
        }
        let a = try await peer(.controlling), b = try await peer(.controlled)
        try await b.setRemoteDescription(try await a.createOffer(), isOffer: true)
        try await a.setRemoteDescription(try await b.createAnswer(), isOffer: false)
        for p in [a, b] {
            for await e in p.events {
                if case .connected = e { break }
                if case .failed(let why) = e { throw WebRTCError(.connectivity, why) }
            }
        }
        return (a, b)
    }

    /// A conversation more than a second behind loses the oldest caller frames, as the SIP path
    /// does, and the call's context says how many (it used to drop them without a trace).
    @Test func callerFramesAConversationDoesNotTakeAreCountedAsDropped() async throws {
        let (a, b) = try await Self.connectedPair()
        defer { a.close(); b.close() }
        try await Task.sleep(for: .seconds(2))  // nobody reads b.incoming: it keeps the newest 50
        let stats = b.statistics
        #expect(stats.framesDropped >= 25, "\(stats)")
        #expect(stats.receivedFields["rtp.frames_dropped"] == String(stats.framesDropped))
        // A conversation that keeps up loses nothing more.
        let reader = Task { for await _ in b.incoming {} }
        defer { reader.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        let settled = b.statistics.framesDropped
        try await Task.sleep(for: .seconds(1))
        #expect(b.statistics.framesDropped == settled)
    }
}
