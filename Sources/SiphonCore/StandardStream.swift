import Foundation

/// Writes to stdout/stderr with write(2). `FileHandle.write(_:)` is a `try!` on Linux: a log line
/// to a closed pipe (a log collector that went away: EPIPE) would kill a worker and its calls.
/// A line that cannot be written is dropped.
public enum StandardStream {
    case output, error

    public func write(_ text: String) {
        var bytes = Array(text.utf8)
        let fd: Int32 = self == .output ? STDOUT_FILENO : STDERR_FILENO
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
