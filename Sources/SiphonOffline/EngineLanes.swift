import Dispatch
import Foundation
import Synchronization

/// Where the offline engines' blocking C calls run: a few serial dispatch queues of their own, so
/// model loading and decoding never occupy Swift's cooperative pool (which paces nothing, but runs
/// every call's conversation) or a media clock. A stream keeps one lane for its life (its work
/// stays in order); streams spread over the lanes, the least loaded first.
final class EngineLanes: Sendable {
    static let shared = EngineLanes(count: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let queues: [DispatchQueue]
    private let load: Mutex<[Int]>

    init(count: Int) {
        queues = (0..<count).map { DispatchQueue(label: "siphon.engine.\($0)") }
        load = Mutex(Array(repeating: 0, count: count))
    }

    /// A lane for a new stream; `release` it when the stream closes.
    func assign() -> Lane {
        let index = load.withLock { l -> Int in
            let i = l.indices.min { l[$0] < l[$1] } ?? 0
            l[i] += 1
            return i
        }
        return Lane(queue: queues[index], index: index, lanes: self)
    }

    fileprivate func release(_ index: Int) { load.withLock { $0[index] -= 1 } }

    struct Lane: Sendable {
        let queue: DispatchQueue
        let index: Int
        let lanes: EngineLanes
        func release() { lanes.release(index) }
    }
}
