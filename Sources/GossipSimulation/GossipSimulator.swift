import Basics
import Gossip
import Ring
import Simulation

/// Many `Gossip.Membership` instances in one process on a virtual clock, connected by a seeded
/// network that can drop, delay, partition, crash and freeze. Deterministic for a given seed.
public struct GossipSimulator {
    /// Network behaviour.
    public struct Network: Sendable {
        /// Probability that any one packet is lost.
        public var loss: Double = 0
        /// One-way delay, uniform in this range.
        public var delay: ClosedRange<Duration> = .milliseconds(1)...(.milliseconds(5))
        public init() {}
    }

    /// A member-table change seen by one node.
    public struct Change: Sendable {
        public var time: Duration
        public var observer: Int
        public var member: Gossip.Member
    }

    public private(set) var nodes: [Gossip.Membership]
    public private(set) var now: Duration = .zero
    public var network = Network()
    /// Every change every node reported, in time order.
    public private(set) var changes: [Change] = []
    /// Positions in `changes` of the changes about each member, in time order (what the
    /// measures read: a victim's changes, not all of them).
    private(set) var changesAbout: [NodeID: [Int]] = [:]
    /// Packets sent, per node.
    public private(set) var packetsSent: [Int]
    public private(set) var crashed: Set<Int> = []
    public private(set) var frozen: Set<Int> = []
    /// When set, every delivered packet is passed here (for debugging traces).
    public var onDeliver: ((Duration, Int, Int, [Gossip.Message]) -> Void)?
    /// Nodes in different groups cannot reach each other; nil means no partition.
    public var partition: [Int: Int]?

    private var queue = TimedQueue<Event>()
    private var deferred: [Int: [Event]] = [:]
    private var random: SeededGenerator
    private let addresses: [Gossip.Address]
    private var indexOfAddress: [Gossip.Address: Int] = [:]

    enum Event {
        case deliver([Gossip.Message], from: Int, to: Int)
        case timer(Gossip.Timer, node: Int)
    }

    /// `count` nodes that all join through node 0 at time zero; with `formed`, a cluster that
    /// has been running: every node starts knowing every other one alive, with nothing queued
    /// to gossip but its own announcement, so a measurement does not begin in the middle of a
    /// thousand joins being gossiped.
    public init(count: Int, settings: Gossip.Settings = Gossip.Settings(), seed: UInt64, formed: Bool = false) {
        random = SeededGenerator(seed: seed)
        addresses = (0..<count).map { Gossip.Address(host: "10.0.\($0 / 250).\($0 % 250 + 1)", port: 7946) }
        nodes = (0..<count).map { index in
            Gossip.Membership(
                selfID: GossipSimulator.id(index), metadata: Gossip.Metadata(gossip: GossipSimulator.address(index), http: "node\(index):8080"),
                incarnation: 1, settings: settings, seed: seed &+ UInt64(index) &* 7919
            )
        }
        packetsSent = Array(repeating: 0, count: count)
        for (index, address) in addresses.enumerated() { indexOfAddress[address] = index }
        if formed {
            let everyone = nodes.map(\.me)
            for index in nodes.indices { nodes[index].adopt(everyone) }
        }
        for index in 0..<count {
            let directives = nodes[index].start(seeds: index == 0 || formed ? [] : [addresses[0]], now: now)
            execute(directives, node: index)
        }
    }

    /// The id of node `index` (`node<index>`).
    public static func id(_ index: Int) -> NodeID { NodeID("node\(index)")! }
    static func address(_ index: Int) -> Gossip.Address { Gossip.Address(host: "10.0.\(index / 250).\(index % 250 + 1)", port: 7946) }

    /// Runs every event up to `time`.
    public mutating func run(until time: Duration) {
        while let next = queue.peekTime, next <= time {
            let (eventTime, event) = queue.pop()!
            now = eventTime
            switch event {
            case .deliver(let messages, let from, let to):
                guard !crashed.contains(to) else { continue }
                if frozen.contains(to) { deferred[to, default: []].append(event); continue }
                onDeliver?(now, from, to, messages)
                execute(nodes[to].onPacket(messages, from: addresses[from], now: now), node: to)
            case .timer(let timer, let node):
                guard !crashed.contains(node) else { continue }
                if frozen.contains(node) { deferred[node, default: []].append(event); continue }
                execute(nodes[node].onTimer(timer, now: now), node: node)
            }
        }
        now = time
    }

    /// Runs for `duration` more.
    public mutating func run(for duration: Duration) { run(until: now + duration) }

    /// Stops a node for good (its pending events are dropped).
    public mutating func crash(_ node: Int) { crashed.insert(node) }

    /// Pauses a node: packets and timers wait until `thaw`, as with SIGSTOP.
    public mutating func freeze(_ node: Int) { frozen.insert(node) }

    /// Resumes a frozen node; everything that waited is handled now.
    public mutating func thaw(_ node: Int) {
        frozen.remove(node)
        for event in deferred.removeValue(forKey: node) ?? [] { queue.push(now, event) }
    }

    /// Restarts a node with an empty table and an incarnation above its last (as if persisted),
    /// joining through `seed`; `crashFirst` drops whatever the old process still had pending.
    public mutating func restart(_ node: Int, seed: Int, crashFirst: Bool = false) {
        let old = nodes[node]
        if crashFirst { queue.removeAll { if case .timer(_, node) = $0 { true } else { false } } }
        crashed.remove(node)
        nodes[node] = Gossip.Membership(selfID: old.selfID, metadata: old.me.metadata, incarnation: old.me.incarnation + 1, settings: old.settings, seed: random.next())
        execute(nodes[node].start(seeds: [addresses[seed]], now: now), node: node)
    }

    /// Gracefully leaves.
    public mutating func leave(_ node: Int) { execute(nodes[node].leave(now: now), node: node) }

    /// The status `observer` currently holds for `subject`.
    public func status(of subject: Int, seenBy observer: Int) -> Gossip.Status? {
        nodes[observer].members[nodes[subject].selfID]?.status
    }

    private mutating func execute(_ directives: [Gossip.Directive], node: Int) {
        for directive in directives {
            switch directive {
            case .send(let messages, let address):
                packetsSent[node] += datagrams(messages, node: node)
                guard let target = indexOfAddress[address], !dropped(from: node, to: target) else { continue }
                let delay = Duration.nanoseconds(Int64.random(in: nanos(network.delay.lowerBound)...nanos(network.delay.upperBound), using: &random))
                queue.push(now + delay, .deliver(messages, from: node, to: target))
            case .schedule(let timer, let after):
                queue.push(now + after, .timer(timer, node: node))
            case .memberChanged(let member):
                changesAbout[member.id, default: []].append(changes.count)
                changes.append(Change(time: now, observer: node, member: member))
            }
        }
    }

    /// How many datagrams the shell would send for `messages`: one, unless a full state is
    /// split across several (tens at a thousand members). The split state is still delivered
    /// whole: splitting changes the count, not what the receiver learns.
    private func datagrams(_ messages: [Gossip.Message], node: Int) -> Int {
        guard messages.contains(where: { if case .state = $0 { true } else { false } }) else { return 1 }
        return Gossip.Codec.encode(messages, limit: nodes[node].settings.maxPacketSize - Gossip.Sealer.overhead).count
    }

    private mutating func dropped(from: Int, to: Int) -> Bool {
        if let partition, partition[from] != partition[to] { return true }
        return network.loss > 0 && Double.random(in: 0..<1, using: &random) < network.loss
    }

    private func nanos(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
