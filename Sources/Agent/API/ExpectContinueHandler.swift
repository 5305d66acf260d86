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
///
/// Requests on one connection are counted (`HTTPExchangeCount`): a pipelined request's head can
/// arrive while the answer to the one before is still being written, and its `100 Continue`
/// waits until that answer has ended, so it never lands inside another response.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Mode: Sendable { case atOnce, whenAsked }

    private let mode: Mode
    private var context: ChannelHandlerContext?
    private var exchanges = HTTPExchangeCount()
    /// Requests (by number) that asked for `100 Continue` and have neither it nor a final answer.
    private var asked: Set<Int> = []
    /// Of those, the ones to invite as soon as the answers before them have ended.
    private var invited: Set<Int> = []

    init(mode: Mode = .atOnce) { self.mode = mode }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        let request = exchanges.read(part)
        // The header stays: an S3 client may have signed it.
        if case .head(let head) = part, head.headerFields[.expect]?.lowercased() == "100-continue" {
            asked.insert(request)
            if mode == .atOnce { invited.insert(request) }
            sendDueContinue()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .head(let head) = part, head.status.kind != .informational {
            asked.remove(exchanges.answering)
            invited.remove(exchanges.answering)
        }
        exchanges.wrote(part)
        context.write(data, promise: promise)
        sendDueContinue()
    }

    /// Sends the `100 Continue` of the request now being answered, if it is invited and the
    /// answers before it have all ended.
    private func sendDueContinue() {
        let request = exchanges.answering
        guard let context, exchanges.answerNotStarted, asked.contains(request), invited.contains(request) else { return }
        asked.remove(request)
        invited.remove(request)
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }

    /// Invites the request being answered, if it asked and nothing was answered yet.
    private func continueIfAsked() {
        guard asked.contains(exchanges.answering) else { return }
        invited.insert(exchanges.answering)
        sendDueContinue()
    }

    /// Invites the client on `channel` to send its body now (a no-op unless it asked and waits).
    static func sendContinue(on channel: any Channel) async {
        try? await channel.pipeline.handler(type: ExpectContinueHandler.self).flatMapThrowing { handler in
            handler.continueIfAsked()
        }.get()
    }
}

/// Where a connection stands in its exchanges: how many requests have begun and ended, and how
/// many answers have begun and ended. Answers go out in request order, so request number
/// `answering` is the one whose answer is being written (or is next).
struct HTTPExchangeCount {
    private(set) var requestsBegun = 0
    private(set) var requestsEnded = 0
    private(set) var answersBegun = 0
    private(set) var answersEnded = 0

    /// The request the next (or current) answer is for.
    var answering: Int { answersEnded }
    /// No part of the answer to `answering` has been written.
    var answerNotStarted: Bool { answersBegun == answersEnded }
    /// The body of the request being answered has not ended yet.
    var answeringUnfinishedRequest: Bool { requestsEnded <= answersEnded }

    /// Counts a request part; returns the number of the request it belongs to.
    mutating func read(_ part: HTTPRequestPart) -> Int {
        switch part {
        case .head:
            requestsBegun += 1
            return requestsBegun - 1
        case .body: return requestsBegun - 1
        case .end:
            requestsEnded += 1
            return requestsEnded - 1
        }
    }

    /// Counts an answer part (interim `1xx` heads are not answers).
    mutating func wrote(_ part: HTTPResponsePart) {
        switch part {
        case .head(let head) where head.status.kind != .informational: answersBegun += 1
        case .end: answersEnded += 1
        default: break
        }
    }
}

/// Bounds what a connection reads of a request body nobody asked for. When an answer goes out
/// before its request's body has ended (an error found in the headers: 401, 403, 413, …),
/// Hummingbird drains the rest of the body to reach the next request — without a limit, so a
/// client could keep a connection busy streaming for ever. This handler marks such an answer
/// `Connection: close` and closes the connection when the body ends, or stops reading and
/// half-closes it once `drainLimit` more body bytes have come (the client sees the answer and an
/// orderly end first, not only a reset), closing it for good `drainTime` after the answer: long
/// enough for a client to read the answer, never longer (Go's server drains 256 KiB alike). A
/// client that sent `Expect: 100-continue` and was answered instead sends no body, and is closed
/// after `drainTime`. Requests are counted (`HTTPExchangeCount`), so an answer to a request
/// whose body has ended is never taken for an early one, however the next request is pipelined.
final class UnreadBodyGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let drainLimit = 256 << 10
    static let drainTime = TimeAmount.seconds(2)

    private var exchanges = HTTPExchangeCount()
    /// The answer being written went out before its request's body ended.
    private var answerIsEarly = false
    /// An early answer has ended: what still arrives of its request's body is discarded.
    private var draining = false
    /// The drain limit was passed: the output is closed and nothing more is read.
    private var discarding = false
    private var drained = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding else { return }
        let part = unwrapInboundIn(data)
        _ = exchanges.read(part)
        switch part {
        case .body(let bytes) where draining:
            drained += bytes.readableBytes
            if drained > Self.drainLimit {
                discarding = true
                let promise = context.eventLoop.makePromise(of: Void.self)
                let loopBound = context.loopBound
                promise.futureResult.whenFailure { _ in loopBound.value.close(promise: nil) }
                context.close(mode: .output, promise: promise)
                return
            }
        case .end where draining:
            // The answer said `close`: nothing more is read from this client.
            context.fireChannelRead(data)
            context.close(promise: nil)
            return
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        // Past the drain limit nothing more is read: the client's sends back up until the close.
        guard !discarding else { return }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        switch part {
        case .head(var head) where head.status.kind != .informational:
            answerIsEarly = exchanges.answeringUnfinishedRequest
            exchanges.wrote(part)
            if answerIsEarly { head.headerFields[.connection] = "close" }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            exchanges.wrote(part)
            context.write(data, promise: promise)
            if answerIsEarly {
                draining = true
                let loopBound = context.loopBound
                context.eventLoop.scheduleTask(in: Self.drainTime) { loopBound.value.close(promise: nil) }
            }
        default:
            exchanges.wrote(part)
            context.write(data, promise: promise)
        }
    }
}
