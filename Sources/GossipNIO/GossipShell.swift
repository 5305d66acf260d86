import Basics
import Foundation
import Gossip
import Logging
import NIOCore
import NIOPosix
import Ring
import ServiceLifecycle

extension Gossip {
    /// How the shell is set up: who we are, where we listen, whom we join, and the cluster's keys.
    public struct ShellConfiguration: Sendable {
        public var id: NodeID
        /// The address to bind (use port 0 for an ephemeral port in tests).
        public var bind: Address
        /// The address others should use to reach us (defaults to the bound one).
        public var advertise: Address?
        public var http: String
        public var zone: String = ""
        public var weight: Double = 1
        public var seeds: [Address] = []
        /// The internal API's own address, when it has one (gossiped as `Metadata.peer`).
        public var peer = ""
        /// The agent's S3 listener URL, when it has one (gossiped as `Metadata.s3`).
        public var s3 = ""
        public var clusterName: String
        public var secret: String
        public var previousSecret: String?
        /// Start above this incarnation (persist the member's incarnation and pass it back after a restart).
        public var incarnation: UInt64 = 0
        public var settings = Settings()

        public init(id: NodeID, bind: Address, http: String, clusterName: String, secret: String) {
            self.id = id
            self.bind = bind
            self.http = http
            self.clusterName = clusterName
            self.secret = secret
        }
    }

    /// Counters of what crossed the socket; drops are by reason.
    public struct ShellCounters: Sendable, Equatable {
        public var packetsIn = 0
        public var packetsOut = 0
        public var droppedUnauthenticated = 0
        public var droppedMalformed = 0
        public var droppedReplayed = 0
        public var droppedOversized = 0
        /// Packets sealed under the previous secret (senders not yet moved in a rotation).
        public var underPreviousSecret = 0
    }
}

/// The I/O shell around `Gossip.Membership`: a UDP socket (NIOAsyncChannel), sealing and replay
/// protection, and a stream of member changes. Run it with `run()` (it is a ServiceLifecycle
/// `Service`); it stops when the task is cancelled or graceful shutdown begins.
///
/// Three loops, all children of `run()`: the receive loop feeds packets to the state machine; one
/// timer loop fires the state machine's timers from a queue; one writer loop resolves addresses
/// (off the actor: a DNS name is resolved on NIO's thread pool) and writes what the state machine
/// sends. No task is started per packet or per timer.
public actor GossipShell: Service {
    public let configuration: Gossip.ShellConfiguration
    private var membership: Gossip.Membership
    private let sealer: Gossip.Sealer
    /// Packets stamped more than a minute from local time, or repeated, are dropped.
    private var replayGuard = NonceWindow<[UInt8]>(window: 60_000)
    private let logger: Logger
    private let started = ContinuousClock.now
    private var running = false
    /// The state machine's timers by due time (time since `started`).
    private var timers = TimedQueue<Gossip.Timer>()
    /// Sealed datagrams for the writer loop. Bounded: when the socket cannot keep up, the oldest
    /// are dropped, as the network would.
    private let outgoing: AsyncStream<Datagram>
    private let outgoingContinuation: AsyncStream<Datagram>.Continuation
    private var subscribers: [UUID: AsyncStream<Gossip.Member>.Continuation] = [:]
    private var boundPort: Int?
    private var readyWaiters: [CheckedContinuation<Int, Never>] = []
    /// What crossed the socket, and what was dropped and why.
    public private(set) var counters = Gossip.ShellCounters()
    /// When the last packet sealed under the previous secret arrived.
    private var lastUnderPreviousSecret: ContinuousClock.Instant?

    public init(configuration: Gossip.ShellConfiguration, logger: Logger) {
        self.configuration = configuration
        self.sealer = Gossip.Sealer(clusterName: configuration.clusterName, secret: configuration.secret, previousSecret: configuration.previousSecret)
        self.logger = logger
        (outgoing, outgoingContinuation) = AsyncStream<Datagram>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let advertise = configuration.advertise ?? configuration.bind
        self.membership = Gossip.Membership(
            selfID: configuration.id,
            metadata: Gossip.Metadata(gossip: advertise, http: configuration.http, peer: configuration.peer, s3: configuration.s3, zone: configuration.zone, weight: configuration.weight),
            incarnation: configuration.incarnation + 1, settings: configuration.settings, seed: UInt64.random(in: 0...UInt64.max)
        )
    }

    /// Every member as this node sees it.
    public var members: [Gossip.Member] { Array(membership.members.values) }

    /// Whether every peer heard from during the last `window` seals with this node's current
    /// secret: no packet under the previous one came in that long, and this shell has listened
    /// for at least that long. During a secret rotation, it tells a node that the peers it hears
    /// have all moved to the secret it signs with.
    public func peersSignWithCurrentSecret(for window: Duration) -> Bool {
        guard elapsed >= window else { return false }
        return lastUnderPreviousSecret.map { ContinuousClock.now - $0 >= window } ?? true
    }

    /// This node's own entry (its incarnation is what to persist).
    public var me: Gossip.Member { membership.me }

    /// Member changes from now on (status, incarnation, metadata), until the shell stops.
    public func changes() -> AsyncStream<Gossip.Member> {
        let (stream, continuation) = AsyncStream<Gossip.Member>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        // A subscriber that stops listening is dropped at the next change (its yield reports it).
        subscribers[UUID()] = continuation
        return stream
    }

    /// The UDP port once bound (waits for it).
    public func port() async -> Int {
        if let boundPort { return boundPort }
        return await withCheckedContinuation { readyWaiters.append($0) }
    }

    /// Records this node's load; it travels on pings and acks.
    public func updateLoad(_ load: Gossip.LoadReport) { membership.updateLoad(load) }

    /// Announces new metadata (ring state, addresses) with a higher incarnation.
    public func updateMetadata(_ metadata: Gossip.Metadata) { execute(membership.updateMetadata(metadata)) }

    /// Leaves the cluster gracefully (call before stopping).
    public func leave() { execute(membership.leave(now: elapsed)) }

    /// Binds the socket and runs until cancelled or graceful shutdown.
    public func run() async throws {
        // No SO_REUSEADDR: on UDP it would let a second process bind the same port and silently
        // take this node's packets; a port in use must fail the start instead.
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: configuration.bind.host, port: configuration.bind.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let port = channel.channel.localAddress?.port ?? configuration.bind.port
        let outgoing = self.outgoing
        let logger = self.logger
        try await withGracefulShutdownHandler {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await Self.writeLoop(outgoing, to: outbound, logger: logger) }
                    group.addTask { await self.timerLoop() }
                    self.begin(port: port)
                    defer { self.stop() }
                    for try await envelope in inbound { self.receive(envelope) }
                    group.cancelAll()
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
        stop()
    }

    private func begin(port: Int) {
        running = true
        boundPort = port
        if configuration.advertise == nil && configuration.bind.port == 0 {
            // Bound to an ephemeral port: advertise the real one.
            var metadata = membership.me.metadata
            metadata.gossip = Gossip.Address(host: configuration.bind.host, port: port)
            _ = membership.updateMetadata(metadata)
        }
        for waiter in readyWaiters { waiter.resume(returning: port) }
        readyWaiters = []
        execute(membership.start(seeds: configuration.seeds, now: elapsed))
        logger.info("gossip listening", metadata: ["node": "\(configuration.id)", "port": "\(port)"])
    }

    private func stop() {
        running = false
        timers = TimedQueue()
        outgoingContinuation.finish()
        for subscriber in subscribers.values { subscriber.finish() }
        subscribers = [:]
    }

    private var elapsed: Duration { ContinuousClock.now - started }

    // MARK: Packets

    private func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        counters.packetsIn += 1
        let bytes = Array(envelope.data.readableBytesView)
        guard bytes.count <= configuration.settings.maxPacketSize else {
            counters.droppedOversized += 1
            return
        }
        let opened: (wallMilliseconds: UInt64, nonce: [UInt8], packet: [UInt8], underPreviousSecret: Bool)
        do {
            opened = try sealer.open(bytes)
        } catch {
            counters.droppedUnauthenticated += 1
            logger.trace("dropped unauthenticated packet", metadata: ["peer": "\(envelope.remoteAddress)"])
            return
        }
        guard replayGuard.admit(opened.nonce, stamp: Int64(clamping: opened.wallMilliseconds), now: Int64(clamping: Self.wallMilliseconds())) == .fresh else {
            counters.droppedReplayed += 1
            return
        }
        let messages: [Gossip.Message]
        do {
            messages = try Gossip.Codec.decode(opened.packet)
        } catch {
            counters.droppedMalformed += 1
            logger.debug("dropped malformed packet", metadata: ["peer": "\(envelope.remoteAddress)", "error": "\(error)"])
            return
        }
        if opened.underPreviousSecret {
            counters.underPreviousSecret += 1
            lastUnderPreviousSecret = .now
        }
        guard let host = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port else { return }
        execute(membership.onPacket(messages, from: Gossip.Address(host: host, port: port), now: elapsed))
    }

    private func execute(_ directives: [Gossip.Directive]) {
        for directive in directives {
            switch directive {
            case .send(let messages, let address):
                send(messages, to: address)
            case .schedule(let timer, let after):
                if running { timers.push(elapsed + after, timer) }
            case .memberChanged(let member):
                logger.debug("member changed", metadata: ["peer": "\(member.id)", "status": "\(member.status)", "incarnation": "\(member.incarnation)"])
                for (key, subscriber) in subscribers {
                    if case .terminated = subscriber.yield(member) { subscribers[key] = nil }
                }
            }
        }
    }

    // MARK: Timers

    /// The longest the timer loop sleeps: a timer scheduled while it sleeps fires at most this late
    /// (the shortest timer the state machine sets is hundreds of milliseconds).
    static let timerResolution: Duration = .milliseconds(10)

    /// Fires due timers, then sleeps until the next one is due (at most `timerResolution`).
    private func timerLoop() async {
        while !Task.isCancelled {
            let now = elapsed
            for timer in timers.popDue(at: now) where running { execute(membership.onTimer(timer, now: elapsed)) }
            let wait = min(Self.timerResolution, max(.zero, (timers.peekTime ?? now + Self.timerResolution) - elapsed))
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    // MARK: Sending

    /// Sealed packets for one address.
    struct Datagram: Sendable {
        var address: Gossip.Address
        var packets: [[UInt8]]
    }

    private func send(_ messages: [Gossip.Message], to address: Gossip.Address) {
        guard running else { return }
        let limit = configuration.settings.maxPacketSize - Gossip.Sealer.overhead
        let packets = Gossip.Codec.encode(messages, limit: limit).map { sealer.seal($0, wallMilliseconds: Self.wallMilliseconds()) }
        counters.packetsOut += packets.count
        outgoingContinuation.yield(Datagram(address: address, packets: packets))
    }

    /// Writes each datagram to its address, resolving names as it goes (cached for a minute, so
    /// a container that comes back under a new address is found again).
    private static func writeLoop(_ outgoing: AsyncStream<Datagram>, to outbound: NIOAsyncChannelOutboundWriter<AddressedEnvelope<ByteBuffer>>, logger: Logger) async {
        var resolver = AddressResolver()
        for await datagram in outgoing {
            guard let target = await resolver.resolve(datagram.address) else {
                logger.debug("cannot resolve gossip address", metadata: ["peer": "\(datagram.address)"])
                continue
            }
            for packet in datagram.packets {
                // UDP is fire and forget: a full socket buffer or an unreachable peer is just a lost packet.
                try? await outbound.write(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet)))
            }
        }
    }

    /// The wall clock in milliseconds since the Unix epoch (packet stamps for the replay guard).
    public static func wallMilliseconds() -> UInt64 { WallClock.milliseconds() }
}
