import Foundation
import Logging
import SiphonAgent
import SiphonCore
import SiphonLiveKit
import SiphonOffline
import SiphonRedis
import SiphonRTP
import SiphonSIP
import SiphonTelephony

/// `siphon config check`: every variable Siphon reads, and the agent configuration, checked for
/// what is missing or malformed — without connecting anywhere. Values are never printed.
struct ConfigurationCheck {
    enum Role: String, CaseIterable, Sendable {
        case all, dispatcher, worker, supervisor
    }

    let env: Environment
    let role: Role
    /// `--config`, else `SIPHON_AGENT_CONFIG`, else the built-in agent.
    let agentConfigPath: String?

    /// Variables Siphon reads (a SIPHON_/SIP_/LIVEKIT_ variable not listed here is probably a typo).
    static let known: Set<String> = [
        "REDIS_URL", "SIPHON_API_TOKEN", "SIPHON_SECRET_KEY", "SIPHON_LOG_LEVEL", "SIPHON_LOG_FORMAT", "SIPHON_AGENT_CONFIG",
        "SIPHON_PUBLIC_IP", "SIPHON_RECORDINGS_DIR", "SIPHON_WEBRTC_HOSTS", "SIPHON_STUN_URLS", "SIPHON_TURN_URLS", "SIPHON_TURN_USERNAME", "SIPHON_TURN_PASSWORD", "SIPHON_WEBRTC_RELAY_ONLY", "SIPHON_MEDIA_NICE", "SIPHON_LIVEKIT_SIGNALLING", "SIP_TRUNK_ADDRESS", "SIP_TRUNK_TRANSPORT", "SIP_TLS_CERT", "SIP_TLS_KEY", "SIP_TLS_CA", "SIP_SRTP", "SIP_USERNAME", "SIP_PASSWORD",
        "FROM_NUMBER", "SIP_INBOUND_ALLOW", "SIP_INBOUND_USERNAME", "SIP_INBOUND_PASSWORD", "SIP_INBOUND_NUMBERS",
        "SIP_REGISTER", "SIP_REGISTRAR", "SIP_REGISTER_USER", "SIP_REGISTER_DOMAIN", "SIP_REGISTER_EXPIRES", "SIP_REGISTER_NUMBER",
        "LIVEKIT_URL", "LIVEKIT_WS_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_KEYS", "LIVEKIT_SIP_TRUNK_ID",
    ]

    func run() -> [CheckResult] {
        var out: [CheckResult] = []
        let serves = { (r: Role) in role == .all || role == r }

        // Redis, every role.
        if let url = env["REDIS_URL"] {
            do {
                _ = try RedisURL(url)
                out.append(.pass("REDIS_URL", "well-formed"))
            } catch {
                out.append(.fail("REDIS_URL", message(error), fix: "redis://[[user]:password@]host[:port][/db]"))
            }
        } else {
            out.append(.warn("REDIS_URL", "not set; redis://127.0.0.1:6379/0 is used", fix: "set REDIS_URL to the deployment's Redis"))
        }
        if let level = env["SIPHON_LOG_LEVEL"], Logger.Level(rawValue: level.lowercased()) == nil {
            out.append(.fail("SIPHON_LOG_LEVEL", "'\(level.prefix(20))' is not a level", fix: "trace, debug, info, notice, warning, error or critical"))
        }
        if let format = env["SIPHON_LOG_FORMAT"], !["text", "json"].contains(format.lowercased()) {
            out.append(.fail("SIPHON_LOG_FORMAT", "must be text or json", fix: "SIPHON_LOG_FORMAT=json in production"))
        }

        if serves(.dispatcher) {
            switch env["SIPHON_API_TOKEN"] {
            case nil:
                out.append(.fail("SIPHON_API_TOKEN", "not set: the dispatcher refuses to start", fix: "SIPHON_API_TOKEN=$(openssl rand -hex 32)"))
            case let t? where t.lowercased().contains("change-me"):
                break  // reported with the other placeholders
            case let t? where t.count < 24:
                out.append(.fail("SIPHON_API_TOKEN", "shorter than 24 characters", fix: "SIPHON_API_TOKEN=$(openssl rand -hex 32)"))
            default:
                out.append(.pass("SIPHON_API_TOKEN", "set"))
            }
        }
        if serves(.dispatcher) || serves(.worker) {
            if env["SIPHON_SECRET_KEY"] == nil {
                out.append(.warn("SIPHON_SECRET_KEY", "not set: calls with an inline trunk password are refused",
                                 fix: "the same SIPHON_SECRET_KEY=$(openssl rand -base64 32) on dispatchers and workers"))
            } else {
                do {
                    _ = try SecretBox.from(env)
                    out.append(.pass("SIPHON_SECRET_KEY", "a 32-byte key"))
                } catch {
                    out.append(.fail("SIPHON_SECRET_KEY", message(error), fix: "openssl rand -base64 32"))
                }
            }
        }
        if serves(.worker) {
            out += telephony()
            out += agents()
        }
        out += liveKit()
        // Provider keys are `<PROVIDER>_API_KEY` (OPENAI_, GROQ_, DEEPGRAM_, ELEVEN_, …).
        for name in env.values.keys.sorted() where Self.known.contains(name) || name.hasSuffix("_API_KEY") {
            if env[name]?.lowercased().contains("change-me") == true {
                out.append(.fail(name, "still the template's placeholder", fix: "replace it with the real value (see .env.example)"))
            }
        }
        for name in env.values.keys.sorted() where !Self.known.contains(name)
            && (name.hasPrefix("SIPHON_") || name.hasPrefix("SIP_") || name.hasPrefix("LIVEKIT_")) {
            out.append(.warn(name, "not a variable Siphon reads (a typo?)", fix: "see .env.example for the names"))
        }
        return out
    }

    private func telephony() -> [CheckResult] {
        var out: [CheckResult] = []
        /// Runs `check` on the variable if set; a thrown error becomes a failure naming it.
        func each(_ name: String, fix: String, _ check: (String) throws -> String?) {
            guard let value = env[name] else { return }
            do {
                if let detail = try check(value) { out.append(.pass(name, detail)) }
            } catch {
                out.append(.fail(name, message(error), fix: fix))
            }
        }
        if env["SIP_TRUNK_ADDRESS"] == nil {
            out.append(.warn("SIP_TRUNK_ADDRESS", "not set: outbound SIP calls need a trunk in each job",
                             fix: "SIP_TRUNK_ADDRESS=carrier-host[:port] (with SIP_USERNAME/SIP_PASSWORD if it authenticates)"))
        }
        each("SIP_TRUNK_ADDRESS", fix: "host or host:port of the carrier's SIP edge") { v in
            let (host, port) = try TrunkSpec.hostPort(v)
            return "\(host) port \(port)"
        }
        each("SIP_TRUNK_TRANSPORT", fix: "udp, tcp or tls") { v in
            guard TrunkSpec.transports.contains(v) else { throw SiphonError.invalid("must be udp, tcp or tls") }
            return nil
        }
        if env["SIP_TLS_CERT"] != nil || env["SIP_TLS_KEY"] != nil || env["SIP_TLS_CA"] != nil {
            let tls = SIPTLSConfiguration(certificateChainPath: env["SIP_TLS_CERT"], privateKeyPath: env["SIP_TLS_KEY"], trustRootsPath: env["SIP_TLS_CA"])
            do {
                guard (tls.certificateChainPath == nil) == (tls.privateKeyPath == nil) else {
                    throw SiphonError.invalid("SIP_TLS_CERT and SIP_TLS_KEY go together")
                }
                try tls.validate()
                out.append(.pass("SIP_TLS", tls.listens ? "certificate and key load; TLS listener on --sip-tls-port" : "trust roots load"))
            } catch {
                out.append(.fail("SIP_TLS", message(error), fix: "PEM files: SIP_TLS_CERT (chain) with SIP_TLS_KEY (its key), SIP_TLS_CA (authorities to trust)"))
            }
        }
        each("SIP_SRTP", fix: "auto (SRTP on TLS calls), off or required (every call)") { v in
            guard TelephonyConfiguration.SRTPMode(rawValue: v) != nil else { throw SiphonError.invalid("must be auto, off or required") }
            return nil
        }
        if env["SIP_TRUNK_TRANSPORT"] == "tls", env["SIP_TLS_CERT"] == nil {
            out.append(.warn("SIP_TLS_CERT", "not set: the TLS trunk cannot open connections to this worker (its BYE, re-INVITEs, inbound calls)",
                             fix: "SIP_TLS_CERT and SIP_TLS_KEY: a certificate for SIPHON_PUBLIC_IP or its name, and open --sip-tls-port (5061)"))
        }
        each("FROM_NUMBER", fix: "E.164: + and 7 to 15 digits") { v in "\(try PhoneNumber(v).e164)" }
        if env["SIP_TRUNK_ADDRESS"] != nil, env["FROM_NUMBER"] == nil {
            out.append(.warn("FROM_NUMBER", "not set: outbound calls present no caller id unless the job gives 'from'",
                             fix: "FROM_NUMBER=+E164 (a number the carrier lets this trunk present)"))
        }
        if env["SIP_REGISTER"] != nil {
            do {
                if let r = try TelephonyConfiguration.registration(env) {
                    let domain = try r.domain ?? TrunkSpec.hostPort(r.registrar).host
                    out.append(.pass("SIP_REGISTER", "registers sip:\(r.user)@\(domain) at \(r.registrar) over \(r.transport.rawValue.lowercased()), asking \(r.expires) s "
                                     + "(check it with `siphon sip probe --trunk registration --register`)"))
                    if r.number == nil {
                        out.append(.warn("SIP_REGISTER_NUMBER", "not set: a call through the registration whose Request-URI and To name no number is refused",
                                         fix: "SIP_REGISTER_NUMBER (or FROM_NUMBER)=+E164, the number this line answers"))
                    }
                }
            } catch {
                out.append(.fail("SIP_REGISTER", message(error), fix: "SIP_REGISTER=true with SIP_REGISTRAR or SIP_TRUNK_ADDRESS, and SIP_USERNAME/SIP_PASSWORD"))
            }
        }
        if env["SIP_USERNAME"] != nil, env["SIP_PASSWORD"] == nil {
            out.append(.fail("SIP_PASSWORD", "SIP_USERNAME is set without SIP_PASSWORD", fix: "set both, or neither for an IP-authenticated trunk"))
        }
        if env["SIPHON_PUBLIC_IP"] == nil {
            out.append(.warn("SIPHON_PUBLIC_IP", "not set: workers advertise their first local IPv4 (wrong behind NAT)",
                             fix: "SIPHON_PUBLIC_IP=<the worker's public address>"))
        }
        each("SIPHON_PUBLIC_IP", fix: "the address the carrier sees for this worker") { v in
            guard CIDR.isValid(v), !v.contains("/") else { throw SiphonError.invalid("not an IP address") }
            return nil
        }
        each("SIPHON_WEBRTC_HOSTS", fix: "comma-separated IP addresses of this host that LiveKit can reach (WebRTC host candidates)") { v in
            let items = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let bad = items.filter { !CIDR.isValid($0) || $0.contains("/") }
            guard bad.isEmpty, !items.isEmpty else { throw SiphonError.invalid("not IP addresses: \(bad.joined(separator: ", ").prefix(80))") }
            return "\(items.count) address(es)"
        }
        each("SIPHON_LIVEKIT_SIGNALLING", fix: "auto (/rtc/v1 where LiveKit has it, else v0) or v0") { v in
            guard ["auto", "v0"].contains(v.lowercased()) else { throw SiphonError.invalid("'\(v.prefix(20))' is neither auto nor v0") }
            return v.lowercased() == "v0" ? "two peer connections (v0)" : "one peer connection where LiveKit offers it (/rtc/v1)"
        }
        each("SIP_INBOUND_ALLOW", fix: "comma-separated IPv4/IPv6 addresses or a.b.c.d/n blocks") { v in
            let items = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let bad = items.filter { !CIDR.isValid($0) }
            guard bad.isEmpty else { throw SiphonError.invalid("not addresses or CIDRs: \(bad.joined(separator: ", ").prefix(80))") }
            return "\(items.count) address(es) or block(s)"
        }
        if env["SIP_INBOUND_USERNAME"] != nil, env["SIP_INBOUND_PASSWORD"] == nil {
            out.append(.fail("SIP_INBOUND_PASSWORD", "SIP_INBOUND_USERNAME is set without it", fix: "set both"))
        }
        each("SIP_INBOUND_NUMBERS", fix: "+E164=agent pairs, comma-separated") { _ in
            "\(try TelephonyConfiguration.from(env).inboundNumbers.count) number(s)"
        }
        each("SIPHON_MEDIA_NICE", fix: "a nice value from -20 to 19 (default -10; 0: none)") { v in
            "media loops at nice \(try MediaPriority.requested(v))"
        }
        each("SIPHON_WEBRTC_RELAY_ONLY", fix: "true or false; true needs SIPHON_TURN_URLS") { _ in
            try BrowserCallRunner.Configuration.from(env, rtpPorts: 16384...32767).relayOnly
                ? "browser calls' media only through the TURN relay" : "browser calls use every path"
        }
        each("SIPHON_RECORDINGS_DIR", fix: "create it, writable by the worker's user") { dir in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue, FileManager.default.isWritableFile(atPath: dir) else {
                throw SiphonError.invalid("not a writable directory")
            }
            return nil
        }
        return out
    }

    private func agents() -> [CheckResult] {
        let path = agentConfigPath ?? env["SIPHON_AGENT_CONFIG"]
        let name = path ?? "built-in agent"
        do {
            let config = try path.map { try AgentConfiguration.load(path: $0) } ?? AgentConfiguration.parse(OfflineEngines.defaultConfiguration, source: "built-in")
            var out: [CheckResult] = []
            for a in config.agents {
                // Built exactly as the worker builds it: a key inline (`api_key`), in the environment,
                // or missing anywhere in a fallback chain is judged by the plugins themselves.
                do {
                    _ = try AgentLoader.registry.makeAgent(a, environment: env)
                    out.append(.pass("\(name): \(a.name)", "stt \(a.stt.provider), llm \(a.llm.provider), tts \(a.tts.provider)"))
                } catch {
                    out.append(.fail("\(name): \(a.name)", message(error), fix: "fix the named key in \(name)"))
                }
            }
            return out
        } catch {
            return [.fail(name, message(error), fix: "fix the named key (docs/configuration.md lists them)")]
        }
    }

    private func liveKit() -> [CheckResult] {
        let keySet = env["LIVEKIT_API_KEY"] != nil, secretSet = env["LIVEKIT_API_SECRET"] != nil
        guard env["LIVEKIT_URL"] != nil || keySet || secretSet else {
            return [.skip("LIVEKIT", "not configured (the direct SIP path needs none)")]
        }
        var out: [CheckResult] = []
        // What a worker would make of them (it refuses to start on a partial set).
        do {
            _ = try LiveKitCredentials.from(env)
        } catch {
            out.append(.fail("LIVEKIT", message(error), fix: "set LIVEKIT_URL (http://livekit:7880), LIVEKIT_API_KEY and LIVEKIT_API_SECRET together"))
        }
        if let keys = env["LIVEKIT_KEYS"], let key = env["LIVEKIT_API_KEY"], let secret = env["LIVEKIT_API_SECRET"] {
            let pairs = keys.split(separator: ",").map { $0.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) } }
            if !pairs.contains(where: { $0.count == 2 && $0[0] == key && $0[1] == secret }) {
                out.append(.fail("LIVEKIT_KEYS", "does not contain LIVEKIT_API_KEY: LIVEKIT_API_SECRET", fix: "LIVEKIT_KEYS=\"<key>: <secret>\" with the same pair"))
            }
        }
        if secretSet, (env["LIVEKIT_API_SECRET"]?.count ?? 0) < 32 {
            out.append(.warn("LIVEKIT_API_SECRET", "shorter than 32 characters", fix: "openssl rand -base64 32"))
        }
        if out.isEmpty { out.append(.pass("LIVEKIT", "URL and key pair consistent")) }
        return out
    }

    private func message(_ error: any Error) -> String {
        Redaction.redact((error as? SiphonError)?.message ?? "\(error)")
    }
}
