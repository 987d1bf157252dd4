import Foundation

/// A child process started with posix_spawn and a clean signal mask (`siphon demo`, the tests).
///
/// Foundation's `Process` spawns from a thread where libdispatch has blocked signals, and the child
/// inherits that mask: redis-server and siphon then never see SIGTERM (and a worker never drains).
/// So children start with an empty mask and default handlers. A path without '/' is looked up in PATH.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var exitStatus: Int32?

    /// `output`: a file that receives stdout and stderr (appended), or nil for /dev/null.
    public init(_ path: String, _ arguments: [String], environment: [String: String], output: String?) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let target = output ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, target, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw SiphonError(.unavailable, "cannot start \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = wait(seconds: 5)
        }
    }

    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            exitStatus = status
            return false
        }
        return r == 0
    }

    public func signal(_ s: Int32) { kill(pid, s) }

    /// Waits for exit (SIGKILL after `seconds`); returns the exit code, or 128+signal.
    @discardableResult
    public func wait(seconds: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning, Date() < deadline { usleep(10_000) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(10_000) }
        }
        guard let s = exitStatus else { return -1 }
        let signaled = (s & 0x7f) != 0
        return signaled ? 128 + (s & 0x7f) : (s >> 8) & 0xff
    }
}
