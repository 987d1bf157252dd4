import Foundation
import Logging
import Metrics
import SiphonCore
import SiphonSIP
import Synchronization

/// Keeps this worker registered at its carrier or PBX (`SIP_REGISTER`), for lines that deliver
/// calls to a registered contact rather than to a fixed address (credential-based carrier
/// accounts, a PBX extension): registers at start, refreshes when 80 % of the granted time has
/// passed, retries a refusal or a silent registrar with backoff (5 s doubling to 5 min, jittered
/// so a cluster restarting together does not hammer the registrar in step), and removes its
/// binding on shutdown. Every worker registers its own Contact: the registrar rings one or all.
public struct TrunkRegistration: Sendable {
    public struct Settings: Sendable, Equatable {
        /// `host[:port]` of the registrar (the trunk's address unless `SIP_REGISTRAR`).
        public var registrar: String
        public var transport: SIPTransportKind
        /// The address-of-record `sip:user@domain` (domain: the registrar's host unless set).
        public var user: String
        public var domain: String?
        public var credentials: DigestCredentials?
        /// Seconds asked for; the registrar may grant less (or more, 423).
        public var expires = 600
        /// The line's number: what a call through the registration is for when its Request-URI
        /// and To name no number (a PBX calling extension 201).
        public var number: PhoneNumber?

        public init(registrar: String, transport: SIPTransportKind, user: String, domain: String? = nil,
                    credentials: DigestCredentials? = nil, number: PhoneNumber? = nil) {
            (self.registrar, self.transport, self.user, self.domain, self.credentials, self.number) = (registrar, transport, user, domain, credentials, number)
        }
    }

    let ua: SIPUserAgent
    public let settings: Settings
    let logger: Logger
    /// 1 while a binding stands, 0 otherwise.
    private let registered = Gauge(label: "siphon_sip_registered")

    public init(ua: SIPUserAgent, settings: Settings, logger: Logger) {
        (self.ua, self.settings, self.logger) = (ua, settings, logger)
    }

    /// The binding, its Call-ID fixed for the life of the process.
    public func binding() throws -> SIPRegistration {
        let (host, port) = try TrunkSpec.hostPort(settings.registrar, defaultPort: settings.transport.defaultPort)
        var registrar = SIPURI(host: host, port: port == settings.transport.defaultPort ? nil : port)
        if let t = settings.transport.uriParameter { registrar.parameters["transport"] = t }
        let aor = SIPURI(user: settings.user, host: settings.domain ?? host)
        return SIPRegistration(registrar: registrar, aor: aor, peer: SIPPeer(host: host, port: port, transport: settings.transport),
                               credentials: settings.credentials)
    }

    /// Registers and refreshes until cancelled; returns the binding as it stands then (for `remove`).
    public func keep(_ start: SIPRegistration) async -> SIPRegistration {
        var registration = start
        var failures = 0
        var bound = false
        let meta: Logger.Metadata = ["sip.registrar": "\(settings.registrar)", "sip.aor": "\(registration.aor)"]
        while !Task.isCancelled {
            let wait: Duration
            do {
                let granted = try await ua.register(&registration, expires: settings.expires)
                registered.record(granted > 0 ? 1 : 0)
                if !bound { logger.info("registered", metadata: meta.merging(["sip.expires": "\(granted)"]) { $1 }) }
                (bound, failures) = (true, 0)
                wait = Self.refreshDelay(granted: granted)
            } catch {
                registered.record(0)
                (bound, failures) = (false, failures + 1)
                wait = Self.retryDelay(failures: failures)
                let reason = Redaction.redact((error as? SIPMessageError)?.reason ?? "\(error)")
                logger.error("registration failed; calls routed to this worker's registration will not arrive",
                             metadata: meta.merging(["error": "\(reason)", "retry_in_s": "\(wait.components.seconds)"]) { $1 })
            }
            do { try await Task.sleep(for: wait) } catch { break }
        }
        return registration
    }

    /// Removes the binding, waiting at most `seconds` for the registrar: a shutdown does not hang
    /// on one that has gone (it drops the binding when it expires).
    public func remove(_ registration: SIPRegistration, within seconds: Double = 2) async {
        let once = Once()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Task {
                var r = registration
                do {
                    _ = try await ua.register(&r, expires: 0)
                    logger.info("registration removed", metadata: ["sip.registrar": "\(settings.registrar)"])
                } catch {
                    logger.warning("registration not removed; the registrar drops it when it expires",
                                   metadata: ["sip.registrar": "\(settings.registrar)", "error": "\(Redaction.redact("\(error)"))"])
                }
                if once.first() { done.resume() }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                if once.first() { done.resume() }
            }
        }
        registered.record(0)
    }

    /// Refresh when 80 % of the granted time has passed (at least 5 s: a registrar granting a few
    /// seconds is not refreshed in a busy loop).
    static func refreshDelay(granted: Int) -> Duration { .milliseconds(max(5_000, granted * 800)) }

    /// 5 s, doubling to 5 minutes, ±20 %.
    static func retryDelay(failures: Int) -> Duration {
        let base = min(300.0, 5.0 * pow(2.0, Double(min(failures - 1, 10))))
        return .milliseconds(Int(base * Double.random(in: 0.8...1.2) * 1000))
    }
}

/// True for the first caller only.
private final class Once: Sendable {
    private let taken = Mutex(false)
    func first() -> Bool { taken.withLock { was in defer { was = true }; return !was } }
}
