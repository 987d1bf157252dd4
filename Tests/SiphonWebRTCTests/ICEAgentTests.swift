import Foundation
import Testing
@testable import SiphonWebRTC

/// Two ICE agents wired through a simulated network on a clock the test owns: every rule of RFC
/// 8445 / 7675 checked without a socket.
@Suite struct ICEAgentTests {
    init() {}
    /// Delivers what the agents transmit, by destination address; `drop` decides per datagram.
    final class Network {
        var agents: [(agent: ICEAgent, address: TransportAddress)] = []
        var now: UInt64 = 1_000_000_000
        var drop: (TransportAddress, TransportAddress, [UInt8]) -> Bool = { _, _, _ in false }
        var events: [Int: [ICEAgent.Output]] = [:]
        var data: [Int: [[UInt8]]] = [:]
        /// Each packet's time on the wire: the clock moves on by this per delivery.
        var latencyNs: UInt64 = 0

        func add(_ agent: ICEAgent, _ address: TransportAddress) {
            agents.append((agent, address))
            agent.addHostSocket(0, address: address, now: now)
        }

        /// Runs until `until` holds or `seconds` of simulated time pass.
        func run(seconds: Double, until: () -> Bool = { false }) {
            let end = now + UInt64(seconds * 1e9)
            while now < end, !until() {
                flush()
                let next = agents.compactMap(\.agent.nextTimeout).min() ?? end
                now = max(now + 1_000_000, min(next, end))
                for a in agents { a.agent.handleTimeout(now: now) }
            }
            flush()
        }

        func flush() {
            var moved = true
            while moved {
                moved = false
                for (i, a) in agents.enumerated() {
                    while let out = a.agent.poll() {
                        moved = true
                        guard case .transmit(_, let to, let bytes) = out else { events[i, default: []].append(out); continue }
                        guard !drop(a.address, to, bytes), let j = agents.firstIndex(where: { $0.address == to }) else { continue }
                        now += latencyNs
                        if let (payload, _) = agents[j].agent.receive(bytes, from: a.address, socket: 0, now: now) {
                            data[j, default: []].append(payload)
                        }
                    }
                }
            }
        }

        func state(_ i: Int) -> ICEAgent.State { agents[i].agent.state }
    }

    func pair(aRole: ICEAgent.Role = .controlling, bRole: ICEAgent.Role = .controlled, trickleA: Bool = true) throws -> Network {
        let net = Network()
        let a = ICEAgent(configuration: .init(role: aRole))
        let b = ICEAgent(configuration: .init(role: bRole))
        net.add(a, try TransportAddress(ip: "10.0.0.1", port: 5000))
        net.add(b, try TransportAddress(ip: "10.0.0.2", port: 6000))
        a.setRemoteCredentials(ufrag: b.localUfrag, password: b.localPassword, now: net.now)
        b.setRemoteCredentials(ufrag: a.localUfrag, password: a.localPassword, now: net.now)
        for c in b.localCandidates { a.addRemoteCandidate(c, now: net.now) }
        if trickleA { for c in a.localCandidates { b.addRemoteCandidate(c, now: net.now) } }
        return net
    }

    @Test func twoAgentsConnectAndCarryData() throws {
        let net = try pair()
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        #expect(net.state(0) == .connected && net.state(1) == .connected)
        let a = net.agents[0].agent, b = net.agents[1].agent
        #expect(a.selectedPair?.remote.address == net.agents[1].address)
        #expect(b.selectedPair?.remote.address == net.agents[0].address)
        #expect(a.send([0x80, 1, 2, 3]))
        net.flush()
        #expect(net.data[1] == [[0x80, 1, 2, 3]])
    }

    /// Each side times a check of the pair it selects (what paces DTLS's retransmissions): on a
    /// path of 15 ms each way, at least 30 ms.
    @Test func theSelectedPairsRoundTripIsMeasured() throws {
        let net = try pair()
        net.latencyNs = 15_000_000
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        for i in 0..<2 {
            let rtt = try #require(net.agents[i].agent.roundTripNs, "agent \(i) has no round trip")
            #expect(rtt >= 30_000_000 && rtt < 1_000_000_000, "agent \(i): \(rtt) ns")
        }
    }

    @Test func aPeerWeWereNotToldAboutIsLearntPeerReflexive() throws {
        // B never gets A's candidate (an mDNS name it cannot resolve, say): it learns A from A's checks.
        let net = try pair(trickleA: false)
        net.run(seconds: 5) { net.state(1) == .connected && net.state(0) == .connected }
        #expect(net.state(1) == .connected)
        #expect(net.agents[1].agent.selectedPair?.remote.kind == .prflx)
    }

    /// Its candidate signalled after its checks arrived: the prflx remote becomes a host one.
    @Test func aLearntCandidateTakesItsSignalledType() throws {
        let net = try pair(trickleA: false)
        net.run(seconds: 5) { net.state(1) == .connected && net.state(0) == .connected }
        #expect(net.agents[1].agent.selectedPair?.remote.kind == .prflx)
        for c in net.agents[0].agent.localCandidates { net.agents[1].agent.addRemoteCandidate(c, now: net.now) }
        #expect(net.agents[1].agent.selectedPair?.remote.kind == .host)
        #expect(net.agents[1].agent.selectedPair?.remote.address == net.agents[0].address)
    }

    /// The relay policy: no host candidate is signalled and a check straight to the host socket
    /// is neither answered nor learnt from — with no TURN server, nothing connects.
    @Test func aRelayOnlyAgentNeverUsesItsHostAddress() throws {
        let net = Network()
        var relayOnly = ICEAgent.Configuration(role: .controlled)
        relayOnly.relayOnly = true
        relayOnly.stunServers = [try TransportAddress(ip: "10.0.0.9", port: 3478)]
        relayOnly.connectTimeoutNs = 3_000_000_000
        let a = ICEAgent(configuration: .init(role: .controlling)), b = ICEAgent(configuration: relayOnly)
        net.add(a, try TransportAddress(ip: "10.0.0.1", port: 5000))
        net.add(b, try TransportAddress(ip: "10.0.0.2", port: 6000))
        #expect(b.localCandidates.isEmpty)
        a.setRemoteCredentials(ufrag: b.localUfrag, password: b.localPassword, now: net.now)
        b.setRemoteCredentials(ufrag: a.localUfrag, password: a.localPassword, now: net.now)
        for c in a.localCandidates { b.addRemoteCandidate(c, now: net.now) }
        a.addRemoteCandidate(ICECandidate(foundation: "1", priority: ICECandidate.priority(.host), address: net.agents[1].address, kind: .host), now: net.now)
        var toStun = 0
        net.drop = { _, to, _ in if to.port == 3478 { toStun += 1 }; return false }
        net.run(seconds: 5)
        #expect(toStun == 0, "a relay-only agent asked a STUN server for its reflexive address")
        #expect(net.state(0) != .connected && net.state(1) != .connected)
        #expect(net.agents[1].agent.selectedPair == nil)
    }

    /// A TURN server over TCP: the agent asks the driver for a connection, allocates over it once
    /// it is up, and a connection that fails ends that server's part of gathering.
    @Test func aTURNServerOverTCPAsksForAConnectionFirst() throws {
        var c = ICEAgent.Configuration(role: .controlling)
        let server = try TransportAddress(ip: "10.0.0.9", port: 3478)
        c.turnServers = [ICEAgent.TURNServer(address: server, username: "u", password: "p", transport: .tcp)]
        let agent = ICEAgent(configuration: c)
        agent.addHostSocket(0, address: try TransportAddress(ip: "10.0.0.1", port: 5000), now: 1)
        var outputs: [ICEAgent.Output] = []
        while let o = agent.poll() { outputs.append(o) }
        let stream = try #require(outputs.compactMap { if case .connect(let s, let to) = $0, to == server { s } else { nil } }.first, "\(outputs)")
        #expect(stream >= ICEAgent.streamSocketBase)
        #expect(!outputs.contains { if case .transmit(_, let to, _) = $0 { to == server } else { false } }, "sent to the server before connecting")
        #expect(!outputs.contains { if case .gatheringComplete = $0 { true } else { false } })
        agent.streamConnected(socket: stream, now: 2)
        let allocate = agent.poll()
        guard case .transmit(let s, let to, let bytes)? = allocate else { Issue.record("no Allocate: \(String(describing: allocate))"); return }
        #expect(s == stream && to == server && (try? STUNMessage(parsing: bytes))?.method == .allocate)
        agent.streamFailed(socket: stream, reason: "reset", now: 3)
        var after: [ICEAgent.Output] = []
        while let o = agent.poll() { after.append(o) }
        #expect(after.contains { if case .gatheringComplete = $0 { true } else { false } }, "\(after)")
    }

    /// Behind a one-to-one NAT (`SIPHON_PUBLIC_IP`): each IPv4 host candidate is also announced at
    /// the public address, same port, server-reflexive and related to its host; never paired locally.
    @Test func aMappedAddressIsAnnouncedAsServerReflexive() throws {
        var c = ICEAgent.Configuration(role: .controlled)
        c.mappedAddresses = ["203.0.113.7", "not an address"]
        let agent = ICEAgent(configuration: c)
        let host = try TransportAddress(ip: "10.0.0.1", port: 5000)
        agent.addHostSocket(0, address: host, now: 1)
        var announced: [ICECandidate] = []
        while let o = agent.poll() { if case .candidate(let candidate) = o { announced.append(candidate) } }
        let mapped = try #require(announced.first { $0.kind == .srflx }, "\(announced)")
        #expect(mapped.address == (try TransportAddress(ip: "203.0.113.7", port: 5000)) && mapped.related == host)
        #expect(announced.filter { $0.kind == .srflx }.count == 1)
        #expect(agent.localCandidates.map(\.kind) == [.host], "the mapped candidate's base is the host socket")
    }

    @Test func bothControllingResolvesToOneController() throws {
        let net = try pair(aRole: .controlling, bRole: .controlling)
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        #expect(net.state(0) == .connected && net.state(1) == .connected)
        let roles = Set(net.agents.map(\.agent.role))
        #expect(roles == [.controlling, .controlled])
        // The higher tie-breaker keeps control (RFC 8445 §7.3.1.1).
        let winner = net.agents.max { $0.agent.tieBreaker < $1.agent.tieBreaker }!.agent
        #expect(winner.role == .controlling)
    }

    @Test func bothControlledResolvesToo() throws {
        let net = try pair(aRole: .controlled, bRole: .controlled)
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        #expect(Set(net.agents.map(\.agent.role)) == [.controlling, .controlled])
    }

    @Test func lossOnTheWayIsRecoveredByRetransmission() throws {
        let net = try pair()
        var n = 0
        net.drop = { _, _, _ in n += 1; return n % 10 < 3 }  // three datagrams in ten lost
        net.run(seconds: 20) { net.state(0) == .connected && net.state(1) == .connected }
        #expect(net.state(0) == .connected && net.state(1) == .connected)
    }

    @Test func consentExpiresWhenThePeerStopsAnswering() throws {
        let net = try pair()
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        let a = net.agents[0].agent
        #expect(a.send([0x80]))
        // B vanishes: A's consent checks go unanswered; after 30 s A stops sending (RFC 7675).
        net.drop = { _, to, _ in to.ip == "10.0.0.2" }
        net.run(seconds: 12)
        #expect(a.state == .disconnected)
        net.run(seconds: 25)
        #expect(a.state == .failed)
        #expect(!a.send([0x80]))
    }

    @Test func consentKeepsAConnectionAliveForMinutes() throws {
        let net = try pair()
        net.run(seconds: 120)
        #expect(net.state(0) == .connected && net.state(1) == .connected)
    }

    @Test func nothingReachableFailsAfterTheConnectTimeout() throws {
        let net = try pair()
        net.drop = { _, _, _ in true }
        net.run(seconds: 40)
        #expect(net.state(0) == .failed)
    }

    @Test func checksWithTheWrongPasswordOrUsernameAreRefused() throws {
        let net = try pair()
        let b = net.agents[1].agent
        var m = STUNMessage(method: .binding, class: .request)
        m.add(.username, string: "\(b.localUfrag):x")
        m.add(.iceControlling, uint64: 1)
        let forged = m.serialized(integrityKey: Array("not-the-password-at-all".utf8), fingerprint: true)
        _ = b.receive(forged, from: try TransportAddress(ip: "10.9.9.9", port: 1), socket: 0, now: net.now)
        var answer: STUNMessage?
        while let out = b.poll() { if case .transmit(_, _, let bytes) = out, let r = try? STUNMessage(parsing: bytes), r.transactionID == m.transactionID { answer = r } }
        #expect(answer?.messageClass == .error && answer?.errorCode?.code == 401)
        // Media from an address ICE never validated is dropped.
        #expect(b.receive([0x80, 0, 0, 0], from: try TransportAddress(ip: "10.9.9.9", port: 1), socket: 0, now: net.now) == nil)
    }

    @Test func anICERestartReconnectsWithNewCredentials() throws {
        let net = try pair()
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        let a = net.agents[0].agent, b = net.agents[1].agent
        let old = a.localUfrag
        a.restart(now: net.now)
        b.restart(now: net.now)
        #expect(a.localUfrag != old)
        a.setRemoteCredentials(ufrag: b.localUfrag, password: b.localPassword, now: net.now)
        b.setRemoteCredentials(ufrag: a.localUfrag, password: a.localPassword, now: net.now)
        for c in b.localCandidates { a.addRemoteCandidate(c, now: net.now) }
        for c in a.localCandidates { b.addRemoteCandidate(c, now: net.now) }
        net.run(seconds: 5) { a.selectedPair != nil && b.selectedPair != nil }
        #expect(a.selectedPair != nil && b.selectedPair != nil)
        #expect(a.send([0x80, 9]))
    }
}
