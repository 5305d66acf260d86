@testable import Agent
import NIOCore
import NIOEmbedded
import Testing

/// The guard that cuts off clients who stop reading: a connection whose output stays backed up
/// for the whole timeout is closed; one that drains within it, however often it backs up, is not.
@Suite("stalled reader guard")
struct StalledReaderGuardTests {
    @Test func aConnectionBackedUpForTheTimeoutIsClosed() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: StalledReaderGuard(timeout: .seconds(3)), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        loop.advanceTime(by: .milliseconds(2_900))
        #expect(channel.isActive, "still within the timeout")
        loop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive, "closed once backed up for the whole timeout")
    }

    @Test func aSlowReaderThatKeepsDrainingIsKept() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: StalledReaderGuard(timeout: .seconds(3)), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for _ in 0..<20 {
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
            loop.advanceTime(by: .milliseconds(2_500))
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
            loop.advanceTime(by: .milliseconds(100))
        }
        loop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "backed up for 50 of 52 seconds, but never for 3 in a row")
        _ = try? channel.finish()
    }
}
