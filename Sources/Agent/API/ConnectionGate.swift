import NIOCore
import Synchronization

/// Caps the connections an HTTP listener holds: in all, and per client address. A connection
/// beyond either cap is closed as soon as it is accepted, before anything is read from it, so
/// a client opening thousands of idle connections pins neither memory nor the slots of others.
/// (Idle connections that fit are closed by the listener's idle timeout.)
final class ConnectionGate: Sendable {
    let maxConnections: Int
    let maxPerClient: Int
    private let open = Mutex(Counts())

    struct Counts {
        var total = 0
        var byClient: [String: Int] = [:]
    }

    init(maxConnections: Int, maxPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
    }

    /// Counts a new connection from `client`; false (nothing counted) when a cap is reached.
    func opened(_ client: String) -> Bool {
        open.withLock { counts in
            let fromClient = counts.byClient[client, default: 0]
            guard counts.total < maxConnections, fromClient < maxPerClient else { return false }
            counts.total += 1
            counts.byClient[client] = fromClient + 1
            return true
        }
    }

    func closed(_ client: String) {
        open.withLock { counts in
            counts.total -= 1
            let left = counts.byClient[client, default: 1] - 1
            counts.byClient[client] = left > 0 ? left : nil
        }
    }

    /// Connections open now.
    var total: Int { open.withLock { $0.total } }

    /// The handler to put first in each accepted connection's pipeline.
    func handler() -> Handler { Handler(gate: self) }

    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let gate: ConnectionGate
        private var counted: String?

        init(gate: ConnectionGate) { self.gate = gate }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { admit(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            if counted == nil { admit(context) }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            release()
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) { release() }

        private func admit(_ context: ChannelHandlerContext) {
            let client = context.channel.remoteAddress?.ipAddress ?? "unknown"
            if gate.opened(client) {
                counted = client
            } else {
                context.close(promise: nil)
            }
        }

        private func release() {
            if let client = counted { gate.closed(client) }
            counted = nil
        }
    }
}
