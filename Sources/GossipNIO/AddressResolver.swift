import Gossip
import NIOCore
import NIOPosix

/// Turns gossip addresses into socket addresses for the writer loop. An IP literal is parsed on
/// the spot; a host name is resolved on NIO's blocking-I/O thread pool (getaddrinfo blocks) and
/// remembered for `lifetime`, so a failing or slow DNS never stalls the state machine.
struct AddressResolver {
    var lifetime: Duration = .seconds(60)
    private var cache: [Gossip.Address: (address: SocketAddress, until: ContinuousClock.Instant)] = [:]

    init() {}

    mutating func resolve(_ address: Gossip.Address) async -> SocketAddress? {
        if let literal = try? SocketAddress(ipAddress: address.host, port: address.port) { return literal }
        let now = ContinuousClock.now
        if let cached = cache[address], cached.until > now { return cached.address }
        let host = address.host, port = address.port
        guard let resolved = try? await NIOThreadPool.singleton.runIfActive({ try SocketAddress.makeAddressResolvingHost(host, port: port) }) else {
            cache[address] = nil
            return nil
        }
        if cache.count > 4096 { cache.removeAll() }
        cache[address] = (resolved, now + lifetime)
        return resolved
    }
}
