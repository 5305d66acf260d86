import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for test servers.
public enum FreePort {
    /// A TCP port that was free a moment ago, for a server about to start (see `pickConsecutive`).
    public static func pick() throws -> Int {
        try pickConsecutive(1)
    }

    /// A TCP socket bound to 127.0.0.1 on a port the kernel picks (not listening), and that port.
    private static func bindEphemeralTCP() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalProcessError("socket() failed") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else {
            close(fd)
            throw LocalProcessError("bind() failed")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Runs `body` with a loopback port that refuses every connection: bound by this process
    /// without listening, so no other process can take it while `body` runs (a port that was
    /// merely free could be bound by a parallel test and answer, or hang).
    public static func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
        let (fd, port) = try bindEphemeralTCP()
        defer { close(fd) }
        return try await body(port)
    }

    /// A port free for both TCP and UDP (gossip listens on UDP, HTTP on TCP: a port free for TCP
    /// may still be held by a UDP socket), and not in `taken`: ports picked for processes not yet
    /// started must be passed here to stay distinct.
    public static func pickForTCPAndUDP(avoiding taken: Set<Int> = []) throws -> Int {
        try pickConsecutive(1, udp: true, avoiding: taken)
    }

    /// The first of `count` consecutive ports, all free for TCP (and for UDP with `udp`), none in
    /// `taken`, for a process that numbers its ports from one (`filestore dev --port`). They are
    /// drawn from 20000-32767, below the kernel's range for outgoing connections (32768-60999 by
    /// default): a port the kernel hands out is free only until some client's connection takes
    /// it as its local port, which made a dev cluster's second agent fail with "Address already
    /// in use" once when its ports came from that range.
    public static func pickConsecutive(_ count: Int, udp: Bool = false, avoiding taken: Set<Int> = []) throws -> Int {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let base = Int.random(in: 20_000...(32_767 - count), using: &random)
            let ports = base..<(base + count)
            if ports.allSatisfy({ !taken.contains($0) && tcpIsFree(port: $0) && (!udp || udpIsFree(port: $0)) }) { return base }
        }
        throw LocalProcessError("no \(count) consecutive free ports in 20000-32767 after 500 tries")
    }

    /// True when a TCP socket can bind 127.0.0.1:`port` (without SO_REUSEADDR).
    public static func tcpIsFree(port: Int) -> Bool { canBind(port: port, type: SOCK_STREAM) }

    /// True when a UDP socket can bind 127.0.0.1:`port` (without SO_REUSEADDR).
    public static func udpIsFree(port: Int) -> Bool { canBind(port: port, type: SOCK_DGRAM) }

    private static func canBind(port: Int, type: __socket_type) -> Bool {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// Polls until something accepts TCP connections on `port`, or throws at the deadline.
    public static func waitUntilListening(port: Int, timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if canConnect(port: port) { return }
            usleep(50_000)  // a poll interval, not a wait for a condition
        }
        throw LocalProcessError("nothing listening on 127.0.0.1:\(port) after \(timeout)")
    }

    /// True when a TCP connection to 127.0.0.1:`port` succeeds.
    public static func canConnect(port: Int, host: String = "127.0.0.1") -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port, host: host)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    private static func loopback(port: Int, host: String = "127.0.0.1") -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }
}
