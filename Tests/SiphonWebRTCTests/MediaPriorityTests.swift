import Foundation
import NIOCore
import NIOPosix
import Testing
import SiphonCore
import SiphonRTP

/// The media loops' nice value: set on every loop thread and on none other, refused without the
/// privilege, and a clear error for a value that is not one.
@Suite struct MediaPriorityTests {
    @Test func everyLoopThreadAndNoOtherGetsTheNiceValue() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)  // its own: the shared loops stay as they are
        let before = MediaPriority.current()
        // A higher nice value (served later) is always permitted.
        #expect(await MediaPriority.apply(before + 3, to: group) == .set(before + 3))
        for loop in group.makeIterator() {
            #expect(try await loop.submit { MediaPriority.current() }.get() == before + 3)
        }
        #expect(MediaPriority.current() == before, "the calling thread keeps its own")
        // A lower one needs CAP_SYS_NICE: granted to root here, refused otherwise.
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let raised = await MediaPriority.apply(before - 5, to: other)
        let seen = try await other.next().submit { MediaPriority.current() }.get()
        if geteuid() == 0 {
            #expect(raised == .set(before - 5) && seen == before - 5)
        } else {
            #expect(raised == .denied(before - 5, errno: EACCES) && seen == before)
        }
        try await group.shutdownGracefully()
        try await other.shutdownGracefully()
    }

    @Test func theRequestedValueIsANiceValueOrAClearError() throws {
        #expect(try MediaPriority.requested(nil) == -10 && MediaPriority.requested(" ") == -10)
        #expect(try MediaPriority.requested("0") == 0 && MediaPriority.requested("-20") == -20 && MediaPriority.requested("19") == 19)
        for bad in ["-21", "20", "high", "1.5"] {
            #expect {
                try MediaPriority.requested(bad)
            } throws: { "\($0)".contains("SIPHON_MEDIA_NICE must be a whole number from -20 to 19") }
        }
    }
}
