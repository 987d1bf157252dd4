import Logging
import Synchronization

/// Per provider endpoint: after `threshold` consecutive provider faults (5xx, timeouts, lost
/// connections) the circuit opens for `cooldown` and requests fail at once, so a fallback takes
/// over without every call waiting out the timeouts; then one trial request decides.
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable { case closed, open, halfOpen = "half_open" }

    public let name: String
    public let threshold: Int
    public let cooldown: Duration
    private struct S { var failures = 0; var openedAt: ContinuousClock.Instant?; var trialInFlight = false }
    private let state = Mutex(S())

    public init(name: String, threshold: Int = 5, cooldown: Duration = .seconds(15)) {
        (self.name, self.threshold, self.cooldown) = (name, threshold, cooldown)
    }

    public var current: State {
        state.withLock { s in
            guard let opened = s.openedAt else { return .closed }
            return ContinuousClock.now - opened >= cooldown ? .halfOpen : .open
        }
    }

    /// Throws `circuitOpen` while open; lets one trial through once the cooldown has passed.
    public func admit() throws {
        let allowed = state.withLock { s -> Bool in
            guard let opened = s.openedAt else { return true }
            guard ContinuousClock.now - opened >= cooldown, !s.trialInFlight else { return false }
            s.trialInFlight = true
            return true
        }
        if !allowed {
            throw ProviderError(provider: name, kind: .circuitOpen, message: "\(threshold) consecutive failures; retrying after \(cooldown)")
        }
    }

    public func succeeded() {
        state.withLock { $0 = S() }
    }

    /// Only provider faults count; a bad request says nothing about the provider's health.
    public func failed(_ error: any Error) {
        let fault = (error as? ProviderError)?.isProviderFault ?? true
        let opened = state.withLock { s -> Bool in
            s.trialInFlight = false
            if s.openedAt != nil, fault {
                s.openedAt = ContinuousClock.now  // the trial failed: another cooldown
                return false
            }
            guard fault else { return false }
            s.failures += 1
            guard s.failures == threshold else { return false }
            s.openedAt = ContinuousClock.now
            return true
        }
        // Once per opening, with the fault that tipped it: the calls only see "circuit open".
        if opened {
            Self.logger.warning("provider circuit opened", metadata: [
                "provider.endpoint": "\(name)", "provider.failures": "\(threshold)", "error": "\(error)",
                "provider.cooldown": "\(cooldown)",
            ])
        }
    }

    private static let logger = Logger(label: "siphon.provider")

    private static let registry = Mutex<[String: CircuitBreaker]>([:])

    /// One breaker per endpoint per process, shared by every call on the worker.
    public static func shared(_ name: String) -> CircuitBreaker {
        registry.withLock { r in
            if let b = r[name] { return b }
            let b = CircuitBreaker(name: name)
            r[name] = b
            return b
        }
    }
}
