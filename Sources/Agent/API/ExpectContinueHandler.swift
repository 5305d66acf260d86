import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with an interim `100 Continue`, so clients that ask (curl does
/// for uploads over 1 MiB, the AWS SDKs for every PUT) start sending the body instead of waiting
/// a second for a reply that Hummingbird would never send. Sits right after the HTTP codec.
///
/// `.atOnce` sends it as the head arrives (the REST and internal listeners, which authenticate
/// in middleware and whose callers are mostly ours). `.whenAsked` holds it until the responder
/// calls `sendContinue(on:)` — the S3 listener does once the signature holds — so an
/// unauthenticated client is never invited to stream a body (DESIGN.md §17); a final answer
/// sent first cancels the invitation, as RFC 9110 §10.1.1 allows.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Mode: Sendable { case atOnce, whenAsked }

    private let mode: Mode
    private var context: ChannelHandlerContext?
    /// The current request asked for `100 Continue` and has neither it nor a final answer yet.
    private var pending = false

    init(mode: Mode = .atOnce) { self.mode = mode }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data), let expect = head.headerFields[.expect] else {
            context.fireChannelRead(data)
            return
        }
        // The header stays: an S3 client may have signed it.
        if expect.lowercased() == "100-continue" {
            switch mode {
            case .atOnce: context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            case .whenAsked: pending = true
            }
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let head) = unwrapOutboundIn(data), head.status.kind != .informational { pending = false }
        context.write(data, promise: promise)
    }

    /// Sends the `100 Continue` the current request asked for, if it did and nothing was answered yet.
    private func continueIfAsked() {
        guard pending, let context else { return }
        pending = false
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }

    /// Invites the client on `channel` to send its body now (a no-op unless it asked and waits).
    static func sendContinue(on channel: any Channel) async {
        try? await channel.pipeline.handler(type: ExpectContinueHandler.self).flatMapThrowing { handler in
            handler.continueIfAsked()
        }.get()
    }
}

/// Bounds what a connection reads of a request body nobody asked for. When an answer goes out
/// before its request's body has ended (an error found in the headers: 401, 403, 413, …),
/// Hummingbird drains the rest of the body to reach the next request — without a limit, so a
/// client could keep a connection busy streaming for ever. This handler marks such an answer
/// `Connection: close` and closes the connection when the body ends, or once `drainLimit` more
/// body bytes or `drainTime` have passed, whichever comes first: long enough for a client to read
/// the answer before the socket closes (Go's server drains 256 KiB alike), never longer. A client
/// that sent `Expect: 100-continue` and was answered instead sends no body, and is closed after
/// `drainTime`.
final class UnreadBodyGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let drainLimit = 256 << 10
    static let drainTime = TimeAmount.seconds(2)

    /// A request's head has arrived and its end has not.
    private var requestOpen = false
    /// The answer to the open request has ended: what still arrives of its body is discarded.
    private var answeredEarly = false
    private var drained = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestOpen = true
        case .body(let bytes):
            if answeredEarly {
                drained += bytes.readableBytes
                if drained > Self.drainLimit {
                    context.close(promise: nil)
                    return
                }
            }
        case .end:
            requestOpen = false
            if answeredEarly {
                // The answer said `close`: nothing more is read from this client.
                context.fireChannelRead(data)
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where requestOpen && head.status.kind != .informational:
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where requestOpen:
            answeredEarly = true
            context.write(data, promise: promise)
            let loopBound = context.loopBound
            context.eventLoop.scheduleTask(in: Self.drainTime) { loopBound.value.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }
}
