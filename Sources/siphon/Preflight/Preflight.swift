import Foundation
import Logging
import ServiceLifecycle
import Siphon
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonLiveKit
import SiphonOffline
import SiphonRedis
import SiphonSIP
import SiphonTelephony

/// The pre-flight checklist (docs/preflight.md, in the same order): environment, Redis, SIP trunk,
/// LiveKit, VAD calibration, codec alignment, and a barge-in rehearsed over loopback SIP.
struct Preflight {
    static let checks = ["environment", "redis", "sip", "livekit", "webrtc", "providers", "vad", "codecs", "barge-in"]

    var env: Environment
    var agentConfigPath: String?
    var redis: String?
    var sipHost: String
    var vadSample: String?
    var rtpPorts: ClosedRange<Int>
    var skip: Set<String>
    var logger: Logger

    func run() async -> [CheckResult] {
        var out: [CheckResult] = []
        if !skip.contains("environment") {
            out += ConfigurationCheck(env: env.setting("REDIS_URL", redis), role: .all, agentConfigPath: agentConfigPath).run().map(prefixed("env"))
        }
        if !skip.contains("redis") { out += await checkRedis() }
        if !skip.contains("sip") { out.append(await checkTrunk()) }
        if !skip.contains("livekit") { out.append(await checkLiveKit()) }
        if !skip.contains("webrtc") { out += await checkWebRTC() }
        if !skip.contains("providers") { out += await checkProviders() }
        if !skip.contains("vad") { out.append(await checkVAD()) }
        if !skip.contains("codecs") { out += checkCodecs() }
        if !skip.contains("barge-in") { out.append(await checkBargeIn()) }
        return out
    }

    private func prefixed(_ p: String) -> (CheckResult) -> CheckResult {
        { r in var r = r; r.check = "\(p) \(r.check)"; return r }
    }

    private var redisString: String { redis ?? env["REDIS_URL"] ?? "redis://127.0.0.1:6379/0" }

    private func client(connections: Int = 1) throws -> RedisClient {
        RedisClient(.init(url: try RedisURL(redisString), connections: connections, reconnectWindowMs: 2_000), logger: logger)
    }

    // MARK: Redis

    func checkRedis() async -> [CheckResult] {
        do {
            let c = try client()
            let info = try await c.send("INFO", "server").string ?? ""
            let persistence = try await c.send("INFO", "persistence").string ?? ""
            func field(_ text: String, _ name: String) -> String? {
                text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
            }
            var out: [CheckResult] = []
            let version = field(info, "redis_version") ?? "?"
            let major = Int(version.split(separator: ".").first ?? "") ?? 0
            out.append(major >= 7 ? .pass("redis", "reachable, version \(version)")
                                  : .fail("redis", "version \(version); Siphon needs 7.0 or newer", fix: "upgrade Redis to 7.x"))
            let aof = field(persistence, "aof_enabled") == "1"
            let rdb = (try? await c.send("CONFIG", "GET", "save").array?.last?.string).flatMap { $0 }.map { !$0.isEmpty } ?? false
            if aof {
                out.append(.pass("redis persistence", "AOF on"))
            } else if rdb {
                out.append(.warn("redis persistence", "RDB snapshots only: a crash loses the calls queued since the last snapshot",
                                 fix: "appendonly yes (and appendfsync everysec)"))
            } else {
                out.append(.fail("redis persistence", "off: a Redis restart loses every queued and running call",
                                 fix: "appendonly yes, or a managed Redis with persistence"))
            }
            return out
        } catch {
            return [.fail("redis", "unreachable at \(Redaction.url(redisString)): \(message(error))", fix: "check REDIS_URL, the network path and AUTH")]
        }
    }

    // MARK: SIP trunk

    func checkTrunk() async -> CheckResult {
        guard let trunk = try? TelephonyConfiguration.from(env).defaultTrunk else {
            return .skip("sip trunk", "no SIP_TRUNK_ADDRESS (jobs must carry their trunk)")
        }
        do {
            var probe = TrunkProbe(trunk: trunk, advertisedHost: sipHost)
            probe.tls.trustRootsPath = env["SIP_TLS_CA"]
            let r = try await probe.run(register: trunk.username != nil, logger: logger)
            if !r.reachable {
                return .fail("sip trunk", "\(r.address) (\(r.transport)): no answer to OPTIONS (\(r.optionsReason))",
                             fix: "check the address and transport, and that the firewall lets SIP through both ways")
            }
            if r.registered == false {
                return .fail("sip trunk", "\(r.address): \(r.registerError ?? "REGISTER refused")",
                             fix: "check SIP_USERNAME and SIP_PASSWORD with the carrier; 403 often means this source IP is not allowed")
            }
            let registered = r.registered == true ? ", credentials accepted (REGISTER \(r.registerExpires ?? 0) s)" : ""
            return .pass("sip trunk", "\(r.address) answered OPTIONS \(r.optionsStatus) in \(r.roundTripMs) ms\(registered)")
        } catch {
            return .fail("sip trunk", message(error), fix: "see docs/operations.md, SIP trunks")
        }
    }

    // MARK: LiveKit

    func checkLiveKit() async -> CheckResult {
        let api: LiveKitAPI
        do {
            guard let credentials = try LiveKitCredentials.from(env) else {
                return .skip("livekit", "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set (the direct SIP path needs none)")
            }
            api = LiveKitAPI(credentials: credentials, timeout: .seconds(5))
        } catch {
            return .fail("livekit", message(error), fix: "set LIVEKIT_URL (e.g. http://livekit:7880), LIVEKIT_API_KEY and LIVEKIT_API_SECRET together")
        }
        let base = api.twirp.credentials.httpURL
        do {
            let started = ContinuousClock.now
            let rooms = try await api.listRooms()
            let ms = (ContinuousClock.now - started).wholeMilliseconds
            // The SIP API needs livekit-sip connected through Redis; say what it holds.
            let sip: String
            do {
                let trunks = try await api.listOutboundTrunks()
                let rules = try await api.listDispatchRules()
                sip = "; SIP: \(trunks.count) outbound trunk(s), \(rules.count) dispatch rule(s)"
            } catch let e as TwirpError {
                return .warn("livekit", "token accepted (ListRooms \(rooms.count) room(s)), but the SIP API failed: \(e)",
                             fix: "livekit-server needs Redis and a running livekit-sip for SIP calls")
            }
            return .pass("livekit", "token signed; ListRooms answered in \(ms) ms at \(base)\(sip)")
        } catch let e as TwirpError where e.code == "unauthenticated" || e.code == "permission_denied" {
            return .fail("livekit", "the server refused the token (\(e.code))", fix: "LIVEKIT_API_KEY/SECRET must be a pair in the server's LIVEKIT_KEYS")
        } catch let e as TwirpError where e.code == "unavailable" && e.httpStatus == 0 {
            return .fail("livekit", "unreachable at \(base)", fix: "check LIVEKIT_URL and that livekit-server runs")
        } catch {
            return .fail("livekit", "\(error)", fix: "check LIVEKIT_URL points at livekit-server's HTTP port")
        }
    }

    // MARK: WebRTC to LiveKit

    /// The agent's media path to LiveKit, as a worker on this host would have it: a hidden
    /// participant in a throwaway room connects ICE and DTLS, then again through TURN only.
    func checkWebRTC() async -> [CheckResult] {
        guard let credentials = try? LiveKitCredentials.from(env) else {
            return [.skip("webrtc", "no LiveKit configured (see the livekit check)")]
        }
        let probe = LiveKitMediaProbe(api: LiveKitAPI(credentials: credentials, timeout: .seconds(5)), url: env["LIVEKIT_URL"] ?? credentials.httpURL,
                                      configuration: .from(env, rtpPorts: rtpPorts), logger: logger)
        let direct = await probe.run()
        var out: [CheckResult] = []
        let ports = "UDP \(rtpPorts.lowerBound)-\(rtpPorts.upperBound) (the workers' --rtp-ports) out of this host, and LiveKit's rtc.port_range (or rtc.udp_port) into the server"
        if direct.connected {
            out.append(.pass("webrtc", "ICE and DTLS up in \(direct.connectMs ?? 0) ms (join \(direct.joinMs ?? 0) ms) over \(direct.local!.rawValue) → \(direct.remote!.rawValue), "
                                + "SRTP \(direct.profile!); candidates: \(direct.candidates)"))
        } else if direct.joinMs == nil {
            out.append(.fail("webrtc", direct.failure ?? "could not join", fix: "check LIVEKIT_URL: the worker opens a WebSocket to its /rtc"))
        } else {
            out.append(.fail("webrtc", "no media path to LiveKit: \(direct.failure ?? "?"); candidates: \(direct.candidates)",
                             fix: "calls would be silent: open \(ports); set SIPHON_WEBRTC_HOSTS to addresses LiveKit can reach; or give LiveKit a TURN server"))
        }
        if !direct.turnAdvertised {
            out.append(.skip("webrtc relay", "LiveKit advertises no TURN server (its turn: section): needed only where UDP to LiveKit is blocked"))
            return out
        }
        let relayed = await probe.run(relayOnly: true)
        if relayed.connected {
            out.append(.pass("webrtc relay", "through TURN only: ICE and DTLS up in \(relayed.connectMs ?? 0) ms (candidates: \(relayed.candidates))"))
        } else {
            out.append(.warn("webrtc relay", "the TURN path failed: \(relayed.failure ?? "?"); candidates: \(relayed.candidates)",
                             fix: "check LiveKit's turn: section (udp_port, domain, external TLS) and that this host reaches it"))
        }
        return out
    }

    // MARK: AI providers

    /// Every provider whose key is set: the key is valid and the endpoint answers (with latency).
    func checkProviders() async -> [CheckResult] {
        let rows = await ProviderChecks(env: env).run()
        guard !rows.isEmpty else { return [.skip("providers", "no provider keys set (the offline engines need none)")] }
        return rows.map { r in
            switch r.status {
            case "ok": .pass("provider \(r.provider)", "key accepted in \(r.latencyMs ?? 0) ms")
            case "invalid key": .fail("provider \(r.provider)", r.detail, fix: "check the key (revoked, or for another project or region)")
            default: .fail("provider \(r.provider)", r.detail, fix: "check outbound HTTPS from this host to the provider")
            }
        }
    }

    // MARK: VAD

    /// On a recording (`--vad-sample`): how much of it the VAD calls speech. Otherwise on generated
    /// telephone audio (eSpeak speech over noise at 10 dB SNR through μ-law), scored against the
    /// clean speech's own activity.
    func checkVAD() async -> CheckResult {
        let vadConfig = (try? AgentLoader.load(path: agentConfigPath ?? env["SIPHON_AGENT_CONFIG"], environment: env).first?.vad) ?? VADConfiguration()
        if let path = vadSample {
            do {
                let wav = try WAVFile.read(path)
                let decisions = VADScore.decisions(wav.samples, detector: try VoiceActivityDetector.make(sampleRate: wav.sampleRate, configuration: vadConfig))
                let share = Double(decisions.filter { $0 }.count) / Double(max(1, decisions.count))
                let detail = String(format: "%@: %.0f %% of %.1f s is speech", path, share * 100, wav.duration)
                if share < 0.05 { return .warn("vad", detail + " — almost nothing", fix: "lower vad.activation_threshold, or check the recording's level") }
                if share > 0.95 { return .warn("vad", detail + " — almost everything", fix: "raise vad.activation_threshold: the line noise triggers it") }
                return .pass("vad", detail)
            } catch {
                return .fail("vad", message(error), fix: "--vad-sample takes a PCM16 or G.711 WAV file at 8, 16, 22.05, 24, 44.1 or 48 kHz")
            }
        }
        do {
            let tts = try EspeakTTS(voice: "en-us", wordsPerMinute: 160, sampleRate: 8000)
            var speech: [Int16] = [Int16](repeating: 0, count: 4000)
            for line in ["I would like to book an appointment for Tuesday", "In the morning please", "No that is all thank you"] {
                for try await f in try await tts.synthesize(line) { speech += f.samples }
                speech += [Int16](repeating: 0, count: 6000)
            }
            let labels = Self.activity(speech)
            var rng = SeededRandom(seed: 7)
            let speechRMS = sqrt(speech.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, labels.filter { $0 }.count * 160)))
            let noiseLevel = speechRMS / pow(10, 10.0 / 20)
            let line = speech.map { s -> Int16 in
                let n = (rng.nextGaussian()) * noiseLevel
                return G711.ulawDecode(G711.ulawEncode(Int16(clamping: Int(Double(s) + n))))
            }
            let predicted = VADScore.decisions(line, detector: VoiceActivityDetector(sampleRate: 8000, configuration: vadConfig))
            let score = VADScore(predicted: predicted, labels: Array(labels.prefix(predicted.count)))
            let detail = String(format: "generated speech at 10 dB SNR through μ-law: F1 %.2f (precision %.2f, recall %.2f)", score.f1, score.precision, score.recall)
            return score.f1 >= 0.8 ? .pass("vad", detail)
                : .warn("vad", detail, fix: "tune vad.activation_threshold / min_silence_duration; `siphon vad run --in <recording>` shows the segments")
        } catch {
            return .fail("vad", "could not generate the calibration sample: \(message(error))", fix: "install espeak-ng, or pass --vad-sample FILE.wav")
        }
    }

    /// Frame labels from clean speech: a frame is speech when it is within 35 dB of the loudest.
    static func activity(_ x: [Int16]) -> [Bool] {
        let energies = stride(from: 0, to: x.count - 159, by: 160).map { s in x[s..<s + 160].reduce(0.0) { $0 + Double($1) * Double($1) } / 160 }
        let peak = energies.max() ?? 1
        return energies.map { 10 * log10(($0 + 1) / (peak + 1)) > -35 }
    }

    // MARK: codecs

    /// The trunk side is G.711 at 8 kHz (or Opus at 48 kHz); a G.711 call's pipeline runs at 8 kHz
    /// (Opus: 16 kHz); each STT and TTS rate must be one the resampler converts from and to.
    func checkCodecs() -> [CheckResult] {
        let agents: [Agent]
        do {
            agents = try AgentLoader.load(path: agentConfigPath ?? env["SIPHON_AGENT_CONFIG"], environment: env)
        } catch {
            return [.skip("codecs", "the agent configuration did not load (see the environment checks)")]
        }
        let pipeline = 8000  // G.711, what carriers send
        return agents.map { a in
            let rates = [("STT", a.stt.sampleRate), ("TTS", a.tts.sampleRate)]
            let bad = rates.filter { !Resampler.supportedRates.contains($0.1) }
            if !bad.isEmpty {
                return .fail("codecs \(a.name)", bad.map { "\($0.0) at \($0.1) Hz" }.joined(separator: ", ") + " cannot be resampled",
                             fix: "use \(Resampler.supportedRates.sorted().map(String.init).joined(separator: "/")) Hz")
            }
            let path = "trunk PCMU/PCMA and pipeline \(pipeline / 1000) kHz; STT \(a.stt.sampleRate) Hz"
                + (a.stt.sampleRate == pipeline ? " (no resampling)" : " (resampled)") + "; TTS \(a.tts.sampleRate) Hz"
                + (a.tts.sampleRate == pipeline ? " (no resampling)" : " (resampled)")
            if a.tts.sampleRate < 8000 || a.stt.sampleRate < 8000 {
                return .warn("codecs \(a.name)", path, fix: "providers below 8 kHz lose telephone bandwidth")
            }
            return .pass("codecs \(a.name)", path)
        }
    }

    // MARK: barge-in

    /// A real call over loopback SIP: an in-process worker (its own key prefix on this Redis, removed
    /// afterwards) serving the offline receptionist, and the scripted caller talking over its greeting.
    func checkBargeIn() async -> CheckResult {
        let prefix = "preflight-\(UInt32.random(in: 0...UInt32.max))"
        var quiet = logger
        quiet.logLevel = .critical
        let c: RedisClient
        do { c = try client(connections: 2) } catch { return .fail("barge-in", message(error), fix: "check REDIS_URL") }
        var group: ServiceGroup?
        var caller: SimulatedCaller?
        let result: CheckResult
        do {
            let agents = try AgentLoader.load(path: nil, environment: Environment([:]))
            var options = Siphon.ServeOptions()
            options.redis = redisString
            options.workerID = "preflight-worker"
            options.capacity = 1
            options.keyPrefix = prefix
            var t = TelephonyConfiguration()
            (t.bindHost, t.sipPort, t.advertisedHost, t.rtpPorts, t.enableTCP) = ("127.0.0.1", 0, "127.0.0.1", 43000...43999, false)
            options.telephony = t
            options.logger = quiet
            let services = try await Siphon.services(agents: agents, options: options, environment: Environment([:]))
            let g = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: quiet))
            group = g
            Task { try? await g.run() }
            // 3 s in: the echo guard has measured the line by then (it holds the G.168 margin for the first 2 s).
            let phone = try await SimulatedCaller.start(
                lines: [.init("Tuesday please", interruptAfter: 3), .init("No that is all thank you")],
                voice: try EspeakTTS(voice: "en-us+f3", wordsPerMinute: 165, sampleRate: 16000), recording: nil, logger: quiet)
            caller = phone
            Task { await phone.run() }
            result = try await rehearse(agent: agents[0], callerPort: phone.port, keys: ClusterKeys(prefix: prefix), client: c)
        } catch {
            result = .fail("barge-in", message(error), fix: "the rehearsal needs Redis, eSpeak NG and PocketSphinx (make demo shows the same call)")
        }
        await group?.triggerGracefulShutdown()
        await caller?.stop()
        try? await Self.removeKeys(prefix: prefix, client: c)
        return result
    }

    private func rehearse(agent: Agent, callerPort: Int, keys: ClusterKeys, client c: RedisClient) async throws -> CheckResult {
        let queue = CallQueue(client: c, keys: keys)
        let store = SessionStore(client: c, keys: keys)
        try await waitUntil("the preflight worker") { try await queue.liveWorkers().count == 1 }
        let job = try CallJob(agent: agent.name, to: PhoneNumber("+15550200123"), transport: .sip,
                              trunk: TrunkSpec(address: "127.0.0.1:\(callerPort)"), maxDuration: 60)
        let id = try await queue.enqueue(job).id
        try await waitUntil("the rehearsal call to end", seconds: 60) { try await store.call(id)?.status.isTerminal ?? false }
        let turns = try await store.turns(id)
        guard let cut = turns.first(where: \.interrupted), let detect = cut.extra["barge_in.detect_ms"].flatMap(Int.init) else {
            return .fail("barge-in", "the agent was not interrupted (turns: \(turns.map { $0.role.rawValue }.joined(separator: ",")))",
                         fix: "check vad and turn.min_interruption; run `make demo` and listen to out/demo/call.wav")
        }
        let reaction = try await store.context(id)["rtp.barge_in_reaction_frames"] ?? "?"
        let limit = Int(agent.turn.minInterruption * 1000) + 200
        let detail = "loopback SIP call: the agent stopped \(detect) ms after the caller's speech onset, line silent \(reaction) frame(s) later"
        return detect <= limit ? .pass("barge-in", detail)
            : .warn("barge-in", detail, fix: "the echo guard held the caller back: check for echo on the line, or lower turn.min_interruption")
    }

    static func removeKeys(prefix: String, client: RedisClient) async throws {
        var cursor = "0"
        repeat {
            let reply = try await client.send("SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "500").array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string)
            if !keys.isEmpty { _ = try await client.send(["DEL"] + keys) }
        } while cursor != "0"
    }

    private func message(_ error: any Error) -> String { Redaction.redact((error as? SiphonError)?.message ?? "\(error)") }
}
