import NIOCore
import NIOHTTPTypes
import Synchronization

/// Watches what a connection has been handed to send against what its socket has taken:
/// closes the connection when its client stops reading (the listener's idle timeout watches
/// only reads, so a client could otherwise start a download, never read it, and hold the
/// connection and its buffers for ever), and lets a download wait until the client has taken
/// most of what it was sent (`OutboundBacklog`), so a slow client holds the download back
/// instead of piling it up in memory.
///
/// Stalled means: bytes are waiting to be written and none has been written for `timeout`.
/// Body bytes go on in writes of `progressStep` (256 KiB), each complete when the kernel has
/// taken it, so a client that keeps reading at least that much per `timeout`, however slowly,
/// is never cut off.
final class StalledReaderGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeout: TimeAmount
    let backlog = OutboundBacklog()
    private var pending = 0
    private var lastProgress = NIODeadline.uptimeNanoseconds(0)
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    /// Body bytes are passed on in writes of at most this much, each showing progress when the
    /// kernel has taken it: how little a slow client must read per `timeout` not to be cut off.
    static let progressStep = 256 << 10

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(var bytes) = unwrapOutboundIn(data), bytes.readableBytes > 0 else { return context.write(data, promise: promise) }
        if pending == 0 {
            lastProgress = context.eventLoop.now
            watch(context)
        }
        pending += bytes.readableBytes
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        while let step = bytes.readSlice(length: min(bytes.readableBytes, Self.progressStep)), step.readableBytes > 0 {
            let count = step.readableBytes
            let written = eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { result in
                let guardian = loopBound.value
                guardian.pending -= count
                switch result {
                case .success:
                    guardian.lastProgress = eventLoop.now
                    guardian.backlog.wrote(count)
                case .failure:
                    // Nothing more will go out: a download waiting on it stops waiting.
                    guardian.backlog.close()
                }
            }
            // The caller's promise completes with the last step (or fails with whichever fails).
            if bytes.readableBytes == 0, let promise { written.futureResult.cascade(to: promise) }
            context.write(wrapOutboundOut(.body(step)), promise: written)
        }
    }

    /// Checks for progress every `timeout` while bytes wait.
    private func watch(_ context: ChannelHandlerContext) {
        guard check == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(deadline: lastProgress + timeout) {
            let (guardian, context) = loopBound.value
            guardian.check = nil
            guard guardian.pending > 0 else { return }
            if context.eventLoop.now - guardian.lastProgress >= guardian.timeout {
                context.close(promise: nil)
            } else {
                guardian.watch(context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { stop() }

    private func stop() {
        check?.cancel()
        check = nil
        backlog.close()
    }
}

/// The body bytes a connection has written to its socket so far, for a download to wait on
/// (from any thread) until its client has taken what it was sent, bar a margin.
final class OutboundBacklog: Sendable {
    private struct State {
        var written = 0
        var closed = false
        var waiting: [(target: Int, resume: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var written: Int { state.withLock { $0.written } }

    fileprivate func wrote(_ count: Int) {
        let ready = state.withLock { state in
            state.written += count
            let written = state.written
            let ready = state.waiting.filter { $0.target <= written }
            state.waiting.removeAll { $0.target <= written }
            return ready
        }
        for waiter in ready { waiter.resume.resume() }
    }

    fileprivate func close() {
        let all = state.withLock { state in
            state.closed = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for waiter in all { waiter.resume.resume() }
    }

    /// Returns once `target` bytes in all have been written, or the connection has closed.
    func wait(untilWritten target: Int) async {
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                guard state.written < target, !state.closed else { return true }
                state.waiting.append((target, resume))
                return false
            }
            if now { resume.resume() }
        }
    }
}
