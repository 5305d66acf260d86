@testable import Agent
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The guard that cuts off clients who stop reading: a connection with bytes waiting and none
/// written for the whole timeout is closed; one whose writes keep completing, however slowly,
/// is not; and a download waiting on the backlog wakes as its bytes are written.
@Suite("stalled reader guard")
struct StalledReaderGuardTests {
    /// Stands for the socket: holds every write until the test lets it complete.
    final class Socket: ChannelOutboundHandler {
        typealias OutboundIn = HTTPResponsePart
        var held: [EventLoopPromise<Void>?] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) { held.append(promise) }

        func takeOne() { if !held.isEmpty { held.removeFirst()?.succeed() } }
    }

    func connection(timeout: TimeAmount) throws -> (EmbeddedChannel, EmbeddedEventLoop, Socket, StalledReaderGuard) {
        let loop = EmbeddedEventLoop()
        let socket = Socket()
        let guardian = StalledReaderGuard(timeout: timeout)
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([socket, guardian])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, loop, socket, guardian)
    }

    func send(_ channel: EmbeddedChannel, bytes: Int) {
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(repeating: 1, count: bytes)), promise: nil)
    }

    @Test func aConnectionWithNothingWrittenForTheTimeoutIsClosed() throws {
        let (channel, loop, _, _) = try connection(timeout: .seconds(3))
        send(channel, bytes: 1000)
        loop.advanceTime(by: .milliseconds(2_900))
        #expect(channel.isActive, "still within the timeout")
        loop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive, "closed once nothing was written for the whole timeout")
    }

    @Test func aSlowReaderWhoseWritesKeepCompletingIsKept() throws {
        let (channel, loop, socket, guardian) = try connection(timeout: .seconds(3))
        for _ in 0..<20 { send(channel, bytes: 1000) }
        for _ in 0..<20 {
            loop.advanceTime(by: .milliseconds(2_500))
            socket.takeOne()
        }
        #expect(channel.isActive, "20 writes over 50 seconds, never 3 seconds without one")
        #expect(guardian.backlog.written == 20_000)
        loop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "nothing waiting: an idle connection is the idle timeout's business")
        _ = try? channel.finish()
    }

    @Test func aLargeBodyGoesOutInStepsEachCountedAsItCompletes() throws {
        let (channel, loop, socket, guardian) = try connection(timeout: .seconds(3))
        let step = StalledReaderGuard.progressStep
        let done = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(repeating: 1, count: 3 * step + 100)), promise: done)
        #expect(socket.held.count == 4, "three full steps and the rest")
        var completed = false
        done.futureResult.whenSuccess { completed = true }
        for taken in 1...3 {
            loop.advanceTime(by: .milliseconds(2_500))
            socket.takeOne()
            #expect(guardian.backlog.written == taken * step && !completed)
        }
        loop.advanceTime(by: .milliseconds(2_500))
        #expect(channel.isActive, "each step completing in time counts as progress")
        socket.takeOne()
        #expect(guardian.backlog.written == 3 * step + 100 && completed, "the caller's write completes with its last step")
        _ = try? channel.finish()
    }

    @Test func aDownloadWaitingOnTheBacklogWakesAsItIsWrittenOrClosed() async throws {
        let (channel, _, socket, guardian) = try connection(timeout: .seconds(3))
        let backlog = guardian.backlog
        for _ in 0..<4 { send(channel, bytes: 1000) }
        let waiter = Task { await backlog.wait(untilWritten: 3000) }
        socket.takeOne()
        socket.takeOne()
        socket.takeOne()
        await waiter.value
        #expect(backlog.written == 3000)
        let never = Task { await backlog.wait(untilWritten: 1 << 40) }
        try await channel.close()
        await never.value
    }
}
