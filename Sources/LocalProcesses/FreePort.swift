import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for test servers.
public enum FreePort {
    /// A port that was free a moment ago (the kernel's pick for port 0).
    public static func pick() throws -> Int {
        let (fd, port) = try bindEphemeralTCP()
        close(fd)
        return port
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

    /// A port free for both TCP and UDP (gossip listens on UDP, HTTP on TCP: a port the kernel
    /// offers for TCP may still be held by a UDP socket), and not in `taken`: the kernel may offer
    /// a port it offered a moment ago, so ports picked for processes not yet started must be
    /// passed here to stay distinct.
    public static func pickForTCPAndUDP(avoiding taken: Set<Int> = []) throws -> Int {
        for _ in 0..<50 {
            let port = try pick()
            if !taken.contains(port) && udpIsFree(port: port) { return port }
        }
        throw LocalProcessError("no port free for both TCP and UDP after 50 tries")
    }

    /// True when a UDP socket can bind 127.0.0.1:`port` (without SO_REUSEADDR).
    public static func udpIsFree(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
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
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
