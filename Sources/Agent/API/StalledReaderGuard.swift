import NIOCore

/// Closes a connection whose client has stopped reading what it is sent. The listener's idle
/// timeout only watches reads, so without this a client could start a download, never read it,
/// and hold the connection (and the chunks queued on it) for ever. The connection counts as
/// stalled from when its output buffer passes the high-water mark (64 KiB) until it drains to
/// the low one (32 KiB): a client taking less than 32 KiB in `timeout` is cut off.
final class StalledReaderGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let timeout: TimeAmount
    private var cutOff: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            cutOff?.cancel()
            cutOff = nil
        } else if cutOff == nil {
            let loopBound = context.loopBound
            cutOff = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cutOff?.cancel()
        cutOff = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cutOff?.cancel()
        cutOff = nil
    }
}
