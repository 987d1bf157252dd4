import Foundation

/// What a process spends, from /proc: CPU time (user + system) and resident memory, sampled
/// every 100 ms. Its idle rate is measured first so a benchmark counts only what the calls add.
final class ProcessCost: @unchecked Sendable {
    struct Figures: Encodable {
        /// CPU milliseconds per second of call (1000 = a whole core per call).
        var cpuMsPerCallSecond: Double
        /// Peak resident memory above idle, per concurrent call.
        var rssMBPerCall: Double
        var peakRSSMB: Double
        var idleRSSMB: Double

        enum CodingKeys: String, CodingKey {
            case cpuMsPerCallSecond = "cpu_ms_per_call_second", rssMBPerCall = "rss_mb_per_concurrent_call"
            case peakRSSMB = "peak_rss_mb", idleRSSMB = "idle_rss_mb"
        }
    }

    struct Spent {
        var cpuMs: Double
        var seconds: Double
        var idleCPUMsPerSecond: Double
        var peakRSSKB: Int
        var idleRSSKB: Int

        func figures(callSeconds: Double, concurrency: Int) -> Figures {
            let busy = max(0, cpuMs - idleCPUMsPerSecond * seconds)
            return Figures(cpuMsPerCallSecond: callSeconds > 0 ? busy / callSeconds : 0,
                           rssMBPerCall: Double(max(0, peakRSSKB - idleRSSKB)) / 1024 / Double(max(1, concurrency)),
                           peakRSSMB: Double(peakRSSKB) / 1024, idleRSSMB: Double(idleRSSKB) / 1024)
        }
    }

    let pid: Int32
    private let lock = NSLock()
    private var idleCPUMsPerSecond = 0.0
    private var idleRSSKB = 0
    private var peakRSSKB = 0
    private var started: (cpu: Double, at: ContinuousClock.Instant)?
    private var sampler: Task<Void, Never>?

    init(pid: Int32) { self.pid = pid }

    /// CPU milliseconds the process has used so far (utime + stime, fields 14 and 15 of stat).
    var cpuMs: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS in kB.
    var rssKB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func measureIdle(seconds: Double) async throws {
        let cpu = cpuMs, at = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = Double((ContinuousClock.now - at).wholeMilliseconds) / 1000
        lock.withLock {
            idleCPUMsPerSecond = (cpuMs - cpu) / elapsed
            idleRSSKB = rssKB
        }
    }

    func start() {
        lock.withLock {
            started = (cpuMs, ContinuousClock.now)
            peakRSSKB = rssKB
        }
        sampler = Task { [weak self] in
            while !Task.isCancelled, let self {
                let rss = self.rssKB
                self.lock.withLock { self.peakRSSKB = max(self.peakRSSKB, rss) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func stop() -> Spent {
        sampler?.cancel()
        return lock.withLock {
            let (cpu, at) = started ?? (cpuMs, ContinuousClock.now)
            return Spent(cpuMs: cpuMs - cpu, seconds: Double((ContinuousClock.now - at).wholeMilliseconds) / 1000,
                         idleCPUMsPerSecond: idleCPUMsPerSecond, peakRSSKB: peakRSSKB, idleRSSKB: idleRSSKB)
        }
    }
}
