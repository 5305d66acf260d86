import Basics
import Foundation
import Ring
import Simulation

extension Gossip {
    /// SWIM with Lifeguard as a pure state machine (DESIGN.md §5): events in (packets, timers,
    /// local changes), directives out (sends, timers, member changes), time passed in. It owns no
    /// sockets and no clocks; the shell and the simulator drive it the same way.
    ///
    /// No event scans the member table: the live peers are kept in an indexed list (a random
    /// pick is O(1)), the live count is that list's size, recently dead members are a short list
    /// pruned by age, and pending updates are queued by how often each was sent — so a
    /// simulated lossy hour of a thousand members takes 14–24 minutes on one core.
    public struct Membership: Sendable {
        public let settings: Settings
        /// This node's id.
        public let selfID: NodeID
        /// Every known member, this node included.
        public private(set) var members: [NodeID: Member]
        /// Lifeguard local-health score, 0 (healthy) ..< `maxLocalHealth`; timeouts scale by score + 1.
        public private(set) var localHealth = 0

        private var nextSequence: UInt64 = 0
        private var probeQueue: [NodeID] = []
        private var probe: Probe?
        private var relays: [UInt64: Relay] = [:]
        private var suspicions: [NodeID: Suspicion] = [:]
        /// Other members that are alive or suspect: what probes and gossip pick from.
        private var peers = IndexedIDs()
        /// Other members that are dead, and those that have not left: what a healed partition and
        /// push-pull pick from.
        private var deadPeers = IndexedIDs()
        private var unleftPeers = IndexedIDs()
        /// Every member's id, this node first, in the order first heard of: the order of a full
        /// state, which must not depend on hashing and costs no sort.
        private var order: [NodeID]
        /// Members declared dead, oldest first, for as long as gossip still includes them.
        private var recentlyDead: [(id: NodeID, since: Instant)] = []
        /// Pending updates, by how many times each was sent (least-sent go out first).
        private var queued = BroadcastQueue()
        /// When this node last pushed its state to a member it holds dead because another dead
        /// one came back: at most one such push per probe interval, or a healed partition of a
        /// thousand members makes every node send hundreds of full states (each tens of packets).
        private var lastHealPush: Instant?
        /// The seeds given at start: contacted again until each is a known member.
        private var seeds: [Address] = []
        private var random: SeededGenerator

        struct Probe {
            var sequence: UInt64
            var target: NodeID
            var acked = false
            var expectedNacks = 0
            var nacks = 0
        }

        struct Relay {
            var origin: Address
            var originSequence: UInt64
        }

        struct Suspicion {
            var incarnation: UInt64
            var start: Instant
            /// Who raised it; does not count as a confirmation.
            var accuser: NodeID
            /// Other members (this node included) that independently suspect the same incarnation.
            var confirmations: Set<NodeID> = []
        }


        /// A member table holding only this node, alive at `incarnation` (persist it and start above it after a restart).
        public init(selfID: NodeID, metadata: Metadata, incarnation: UInt64, settings: Settings = Settings(), seed: UInt64) {
            self.settings = settings
            self.selfID = selfID
            self.members = [selfID: Member(id: selfID, incarnation: incarnation, status: .alive, metadata: metadata)]
            self.order = [selfID]
            self.random = SeededGenerator(seed: seed)
        }

        /// This node as the table holds it.
        public var me: Member { members[selfID]! }

        /// Members that count toward cluster size (not dead, not left).
        public var liveCount: Int { peers.count + (me.isLive ? 1 : 0) }

        /// Puts a member's entry in the table, keeping the indexes in step.
        private mutating func store(_ member: Member, now: Instant? = nil) {
            let previous = members.updateValue(member, forKey: member.id)?.status
            if previous == nil { order.append(member.id) }
            guard member.id != selfID, previous != member.status else { return }
            if member.isLive { peers.insert(member.id) } else { peers.remove(member.id) }
            if member.status == .dead { deadPeers.insert(member.id) } else { deadPeers.remove(member.id) }
            if member.status != .left { unleftPeers.insert(member.id) } else { unleftPeers.remove(member.id) }
            if member.status == .dead, let now { recentlyDead.append((member.id, now)) }
        }

        // MARK: Lifecycle

        /// Takes `others` into the table as already known and agreed, queueing no updates: the
        /// state of a cluster that has been running (the simulator's formed clusters), not news.
        public mutating func adopt(_ others: [Member]) {
            members.reserveCapacity(members.count + others.count)
            for member in others where member.id != selfID && members[member.id] == nil { store(member) }
        }

        /// Starts the periodic timers and announces this node; with `seeds`, joins through them (push-pull).
        public mutating func start(seeds: [Address], now: Instant) -> [Directive] {
            enqueue(.alive(me), about: selfID)
            var directives: [Directive] = [.schedule(.probeTick, after: settings.probeInterval), .schedule(.gossipTick, after: settings.gossipInterval),
                                           .schedule(.pushPullTick, after: settings.pushPullInterval(members: liveCount))]
            self.seeds = seeds.filter { $0 != me.metadata.gossip }
            for seed in self.seeds {
                directives.append(.send([fullState(reply: false)], to: seed))
            }
            // A seed that was not up yet misses the first push-pull: retry until it answers,
            // rather than waiting for the 30 s push-pull or for gossip to mention it.
            if !self.seeds.isEmpty { directives.append(.schedule(.seedRetry, after: settings.probeInterval)) }
            return directives
        }

        /// Leaves gracefully: `left` is announced at once to a few members and then gossiped; it is final.
        public mutating func leave(now: Instant) -> [Directive] {
            var self_ = me
            self_.incarnation += 1
            self_.status = .left
            members[selfID] = self_
            enqueue(.left(id: selfID, incarnation: self_.incarnation), about: selfID)
            return [.memberChanged(self_)] + gossip(now: now)
        }

        /// Changes what this node announces about itself (bumps its incarnation).
        public mutating func updateMetadata(_ metadata: Metadata) -> [Directive] {
            var self_ = me
            self_.metadata = metadata
            self_.incarnation += 1
            members[selfID] = self_
            enqueue(.alive(self_), about: selfID)
            return [.memberChanged(self_)]
        }

        /// Records this node's latest load; it travels on pings and acks, without an incarnation bump.
        public mutating func updateLoad(_ load: LoadReport) {
            members[selfID]!.load = load
            members[selfID]!.loadVersion += 1
        }

        // MARK: Timers

        /// Handles a timer set by an earlier `.schedule` directive.
        public mutating func onTimer(_ timer: Timer, now: Instant) -> [Directive] {
            switch timer {
            case .probeTick: return probeTick(now: now)
            case .probeTimeout(let sequence): return probeTimeout(sequence: sequence)
            case .probeEnd(let sequence): return probeEnd(sequence: sequence, now: now)
            case .relayTimeout(let sequence):
                guard let relay = relays.removeValue(forKey: sequence) else { return [] }
                return [.send([.nack(sequence: relay.originSequence, from: selfID)], to: relay.origin)]
            case .suspicionTimeout(let id, let incarnation): return suspicionTimeout(id: id, incarnation: incarnation, now: now)
            case .gossipTick: return gossip(now: now) + [.schedule(.gossipTick, after: settings.gossipInterval)]
            case .seedRetry:
                let known = Set(members.values.filter { $0.id != selfID }.map(\.metadata.gossip))
                let missing = seeds.filter { !known.contains($0) }
                guard !missing.isEmpty else { return [] }
                return missing.map { .send([fullState(reply: false)], to: $0) } + [.schedule(.seedRetry, after: settings.probeInterval * 2)]
            case .pushPullTick:
                var directives: [Directive] = [.schedule(.pushPullTick, after: settings.pushPullInterval(members: liveCount))]
                // Dead members are candidates too: that is how the two sides of a healed partition find each other.
                if let peer = unleftPeers.randomElement(using: &random).flatMap({ members[$0] }) {
                    directives.append(.send([fullState(reply: false)], to: peer.metadata.gossip))
                }
                return directives
            }
        }

        private var scaled: Int { localHealth + 1 }

        private mutating func probeTick(now: Instant) -> [Directive] {
            // A period that ends exactly as the next begins is settled first.
            var directives = probe.map { probeEnd(sequence: $0.sequence, now: now) } ?? []
            directives.append(.schedule(.probeTick, after: settings.probeInterval * scaled))
            guard me.status != .left, let target = nextProbeTarget() else { return directives }
            nextSequence += 1
            probe = Probe(sequence: nextSequence, target: target.id)
            var ping: [Message] = [.ping(sequence: nextSequence, target: target.id, from: selfID), ownLoad]
            // Lifeguard's buddy system: a suspect hears of its suspicion on every ping, so it can refute in time.
            if target.status == .suspect { ping.append(.suspect(id: target.id, incarnation: target.incarnation, from: selfID)) }
            directives.append(send(ping, to: target.metadata.gossip))
            directives.append(.schedule(.probeTimeout(sequence: nextSequence), after: settings.probeTimeout * scaled))
            directives.append(.schedule(.probeEnd(sequence: nextSequence), after: settings.probeInterval * scaled))
            return directives
        }

        /// Round-robin over a shuffled list of live peers, reshuffled each pass (SWIM's bounded detection).
        private mutating func nextProbeTarget() -> Member? {
            for _ in 0..<2 {
                while let id = probeQueue.popLast() {
                    if let member = members[id], member.isLive { return member }
                }
                probeQueue = peers.ids.shuffled(using: &random)
            }
            return nil
        }

        private mutating func probeTimeout(sequence: UInt64) -> [Directive] {
            guard var current = probe, current.sequence == sequence, !current.acked, let target = members[current.target] else { return [] }
            let helpers = randomMembers(settings.indirectProbes, excluding: [target.id], includeRecentlyDead: false, now: .zero)
            current.expectedNacks = helpers.count
            probe = current
            return helpers.map {
                send([.pingRequest(sequence: sequence, target: target.id, targetAddress: target.metadata.gossip, from: selfID)], to: $0.metadata.gossip)
            }
        }

        private mutating func probeEnd(sequence: UInt64, now: Instant) -> [Directive] {
            guard let current = probe, current.sequence == sequence else { return [] }
            probe = nil
            if current.acked { return [] }
            // Lifeguard: missing nacks mean the problem may be ours; no helpers at all counts as one miss.
            adjustHealth(current.expectedNacks > 0 ? current.expectedNacks - current.nacks : 1)
            guard let target = members[current.target], target.isLive else { return [] }
            // Tell the target directly too: gossip alone may miss it, and it is the one who can refute.
            return suspect(target.id, incarnation: target.incarnation, by: selfID, now: now)
                + [.send([.suspect(id: target.id, incarnation: target.incarnation, from: selfID)], to: target.metadata.gossip)]
        }

        private mutating func suspicionTimeout(id: NodeID, incarnation: UInt64, now: Instant) -> [Directive] {
            guard let suspicion = suspicions[id], suspicion.incarnation == incarnation, var member = members[id], member.status == .suspect else { return [] }
            let deadline = suspicion.start + suspicionTimeout(confirmations: suspicion.confirmations.count)
            guard now >= deadline else { return [.schedule(.suspicionTimeout(id: id, incarnation: incarnation), after: deadline - now)] }
            suspicions[id] = nil
            member.status = .dead
            store(member, now: now)
            enqueue(.dead(id: id, incarnation: incarnation, from: selfID), about: id)
            return [.memberChanged(member)]
        }

        /// Lifeguard's dynamic suspicion timeout, as memberlist computes it: the maximum with no
        /// confirmations, shrinking logarithmically to the minimum once `suspicionMultiplier - 2`
        /// independent members confirm; the minimum outright when the cluster is too small for that.
        func suspicionTimeout(confirmations: Int) -> Duration {
            let size = max(liveCount, 1)
            let minimum = settings.minSuspicionTimeout(members: size)
            let maximum = settings.maxSuspicionTimeout(members: size)
            let expected = settings.suspicionMultiplier - 2
            guard expected >= 1, size - 2 >= expected else { return minimum }
            let fraction = log(Double(min(confirmations, expected)) + 1) / log(Double(expected) + 1)
            let timeout = maximum - (maximum - minimum) * fraction
            return max(minimum, timeout)
        }

        private mutating func adjustHealth(_ delta: Int) {
            localHealth = min(max(localHealth + delta, 0), settings.maxLocalHealth - 1)
        }

        // MARK: Packets

        /// Handles the messages of one packet received from `address`.
        public mutating func onPacket(_ messages: [Message], from address: Address, now: Instant) -> [Directive] {
            var directives: [Directive] = []
            for message in messages { directives += handle(message, from: address, now: now) }
            return directives
        }

        private mutating func handle(_ message: Message, from address: Address, now: Instant) -> [Directive] {
            guard me.status != .left else { return [] }
            switch message {
            case .ping(let sequence, let target, _):
                guard target == selfID else { return [] }  // meant for a node that used to live at this address
                return [send([.ack(sequence: sequence, from: selfID), ownLoad], to: address)]
            case .ack(let sequence, let from):
                if var current = probe, current.sequence == sequence, !current.acked, current.target == from {
                    current.acked = true
                    probe = current
                    adjustHealth(-1)
                } else if let relay = relays.removeValue(forKey: sequence) {
                    return [.send([.ack(sequence: relay.originSequence, from: from)], to: relay.origin)]
                }
                return []
            case .nack(let sequence, _):
                if var current = probe, current.sequence == sequence { current.nacks += 1; probe = current }
                return []
            case .pingRequest(let sequence, let target, let targetAddress, _):
                nextSequence += 1
                relays[nextSequence] = Relay(origin: address, originSequence: sequence)
                return [.send([.ping(sequence: nextSequence, target: target, from: selfID)], to: targetAddress),
                        .schedule(.relayTimeout(sequence: nextSequence), after: settings.probeTimeout)]
            case .alive(let member): return alive(member, now: now)
            // An accusation against an incarnation we already outbid: the sender missed our refutation; repeat it to them.
            case .suspect(selfID, let incarnation, _) where incarnation < me.incarnation, .dead(selfID, let incarnation, _) where incarnation < me.incarnation:
                return [.send([.alive(me)], to: address)]
            // A fresh accusation against us: refute, and tell the accuser directly as well as by gossip
            // (it may be on the far side of a healed partition, where our gossip does not reach yet).
            case .suspect(selfID, let incarnation, let from), .dead(selfID, let incarnation, let from):
                let refutation = suspect(selfID, incarnation: incarnation, by: from, now: now)
                return refutation.isEmpty ? [] : refutation + [.send([.alive(me)], to: address)]
            case .suspect(let id, let incarnation, let from): return suspect(id, incarnation: incarnation, by: from, now: now)
            case .dead(let id, let incarnation, let from): return dead(id, incarnation: incarnation, by: from, now: now)
            case .left(let id, let incarnation): return left(id, incarnation: incarnation)
            case .load(let id, let version, let report):
                if var member = members[id], id != selfID, version > member.loadVersion {
                    member.load = report
                    member.loadVersion = version
                    members[id] = member
                }
                return []
            case .state(let remote, let reply, _):
                var directives: [Directive] = []
                let incarnation = me.incarnation
                members.reserveCapacity(members.count + remote.count)  // a first full state: one allocation, not a dozen resizes
                for member in remote { directives += merge(member, now: now) }
                if !reply {
                    directives.append(.send([fullState(reply: true)], to: address))
                } else if me.incarnation != incarnation {
                    directives.append(.send([.alive(me)], to: address))  // the peer's view of us was stale: correct it directly
                }
                return directives
            }
        }

        /// Folds one entry of a peer's full state into ours.
        private mutating func merge(_ remote: Member, now: Instant) -> [Directive] {
            var alive = remote
            alive.status = .alive
            switch remote.status {
            // Gossiped on, as memberlist does, even when first heard of here: a member that has just
            // joined through a seed knows only that seed, so its own announcement reaches no one
            // else until others pass it on. (A thousand nodes joining at once therefore gossip
            // for a minute; the benchmark starts from a formed cluster.)
            case .alive: return self.alive(remote, now: now)
            // A remote "dead" becomes our suspicion: the member gets the chance to refute (as memberlist does).
            case .suspect, .dead:
                let known = members[remote.id] == nil ? self.alive(alive, now: now, announce: false) : []
                return known + suspect(remote.id, incarnation: remote.incarnation, by: selfID, now: now)
            case .left:
                let known = members[remote.id] == nil ? self.alive(alive, now: now, announce: false) : []
                return known + left(remote.id, incarnation: remote.incarnation)
            }
        }

        // MARK: Rules

        private mutating func alive(_ remote: Member, now: Instant, announce: Bool = true) -> [Directive] {
            if remote.id == selfID {
                // Someone holds a newer or equal claim about us that is not ours: outbid it.
                guard remote.incarnation > me.incarnation || (remote.incarnation == me.incarnation && remote.metadata != me.metadata) else { return [] }
                return refute(above: remote.incarnation)
            }
            var updated = remote
            updated.status = .alive
            var directives: [Directive] = []
            if let current = members[remote.id] {
                // Stale or equal incarnations change nothing; dead and left only yield to a strictly newer incarnation (a restart).
                guard remote.incarnation > current.incarnation else { return [] }
                if remote.loadVersion < current.loadVersion { updated.load = current.load; updated.loadVersion = current.loadVersion }
                // A dead member came back: maybe a partition healed, so the others we hold dead may be alive too.
                // Push our state to one of them now rather than at the next push-pull tick.
                if current.status == .dead, lastHealPush.map({ now - $0 >= settings.probeInterval }) ?? true,
                   let other = deadPeers.randomElement(excluding: remote.id, using: &random).flatMap({ members[$0] }) {
                    lastHealPush = now
                    directives.append(.send([fullState(reply: false)], to: other.metadata.gossip))
                }
                if current.status == .dead { recentlyDead.removeAll { $0.id == remote.id } }
            }
            store(updated)
            suspicions[remote.id] = nil
            if announce { enqueue(.alive(updated), about: remote.id) }
            return [.memberChanged(updated)] + directives
        }

        private mutating func suspect(_ id: NodeID, incarnation: UInt64, by accuser: NodeID, now: Instant) -> [Directive] {
            if id == selfID {
                adjustHealth(1)  // Lifeguard: being suspected hints that we are the slow one
                return incarnation >= me.incarnation ? refute(above: incarnation) : []
            }
            guard var member = members[id], incarnation >= member.incarnation, member.isLive else { return [] }
            if member.status == .suspect, incarnation == member.incarnation, var suspicion = suspicions[id] {
                guard accuser != suspicion.accuser, suspicion.confirmations.insert(accuser).inserted else { return [] }
                suspicions[id] = suspicion
                enqueue(.suspect(id: id, incarnation: incarnation, from: accuser), about: id)
                let deadline = suspicion.start + suspicionTimeout(confirmations: suspicion.confirmations.count)
                return [.schedule(.suspicionTimeout(id: id, incarnation: incarnation), after: max(.zero, deadline - now))]
            }
            member.status = .suspect
            member.incarnation = incarnation
            store(member)
            suspicions[id] = Suspicion(incarnation: incarnation, start: now, accuser: accuser)
            // Probe an accused member next: an independent failure confirms the suspicion sooner (the
            // timeout shrinks to its minimum), a live one hears of it on the ping and refutes. Without
            // this, confirmations wait for the random round-robin to reach it, which makes the tail.
            if accuser != selfID { probeQueue.append(id) }
            enqueue(.suspect(id: id, incarnation: incarnation, from: accuser), about: id)
            let timeout = suspicionTimeout(confirmations: suspicions[id]!.confirmations.count)
            return [.memberChanged(member), .schedule(.suspicionTimeout(id: id, incarnation: incarnation), after: timeout)]
        }

        private mutating func dead(_ id: NodeID, incarnation: UInt64, by accuser: NodeID, now: Instant) -> [Directive] {
            if id == selfID { return incarnation >= me.incarnation ? refute(above: incarnation) : [] }
            guard var member = members[id], incarnation >= member.incarnation, member.isLive else { return [] }
            member.status = .dead
            member.incarnation = incarnation
            store(member, now: now)
            suspicions[id] = nil
            enqueue(.dead(id: id, incarnation: incarnation, from: accuser), about: id)
            return [.memberChanged(member)]
        }

        private mutating func left(_ id: NodeID, incarnation: UInt64) -> [Directive] {
            if id == selfID {
                // Told we left while we run: we left and restarted before our incarnation was
                // persisted, so we came back at the very one we left with. Outbid it, or we
                // would stay "left" everywhere for good.
                return me.status != .left && incarnation >= me.incarnation ? refute(above: incarnation) : []
            }
            guard var member = members[id], incarnation >= member.incarnation, member.status != .left else { return [] }
            member.status = .left
            member.incarnation = incarnation
            store(member)
            suspicions[id] = nil
            enqueue(.left(id: id, incarnation: incarnation), about: id)
            return [.memberChanged(member)]
        }

        /// Announces this node alive at an incarnation above `incarnation`.
        private mutating func refute(above incarnation: UInt64) -> [Directive] {
            var self_ = me
            self_.incarnation = max(self_.incarnation, incarnation) + 1
            self_.status = .alive
            members[selfID] = self_
            enqueue(.alive(self_), about: selfID)
            return [.memberChanged(self_)]
        }

        // MARK: Dissemination

        /// Our whole table as a push-pull message, in id order (dictionary order differs per process;
        /// the simulator must be reproducible).
        private func fullState(reply: Bool) -> Message {
            .state(members: order.compactMap { members[$0] }, reply: reply, from: selfID)
        }

        private var ownLoad: Message { .load(id: selfID, version: me.loadVersion, report: me.load) }

        /// Queues an update; it replaces any older queued update about the same member.
        private mutating func enqueue(_ message: Message, about subject: NodeID) {
            queued.enqueue(message, about: subject, size: Codec.encodedSize(message))
        }

        /// Whether updates are waiting to be gossiped.
        public var hasPendingBroadcasts: Bool { !queued.isEmpty }

        /// `messages` plus as many pending updates as fit in one packet, least-sent first.
        private mutating func send(_ messages: [Message], to address: Address) -> Directive {
            let budget = settings.maxPacketSize - Sealer.overhead - 2 - messages.reduce(0) { $0 + Codec.encodedSize($1) }
            let limit = settings.retransmitLimit(members: max(liveCount, 1))
            return .send(messages + queued.take(fitting: budget, retransmitLimit: limit), to: address)
        }

        /// One gossip round: pending updates to `gossipFanout` random members (recently dead ones
        /// included, so a wrongly declared member hears it and can refute).
        private mutating func gossip(now: Instant) -> [Directive] {
            guard !queued.isEmpty else { return [] }
            return randomMembers(settings.gossipFanout, excluding: [], includeRecentlyDead: true, now: now).compactMap { member in
                guard !queued.isEmpty else { return nil }
                return send([], to: member.metadata.gossip)
            }
        }

        /// Up to `count` distinct random members other than this node and `excluding`: live ones,
        /// and with `includeRecentlyDead` those declared dead within a push-pull interval. O(count)
        /// picks from the indexed lists; the whole list, shuffled, when it is not much longer.
        private mutating func randomMembers(_ count: Int, excluding: Set<NodeID>, includeRecentlyDead: Bool, now: Instant) -> [Member] {
            let window = settings.pushPullInterval
            while let oldest = recentlyDead.first, now - oldest.since >= window { recentlyDead.removeFirst() }
            let dead = includeRecentlyDead ? recentlyDead.filter { members[$0.id]?.status == .dead && now - $0.since < window }.map(\.id) : []
            let total = peers.count + dead.count
            func candidate(_ index: Int) -> NodeID { index < peers.count ? peers.ids[index] : dead[index - peers.count] }
            var chosen: [NodeID] = []
            if total <= 2 * (count + excluding.count) {
                chosen = (0..<total).map(candidate).filter { !excluding.contains($0) }.shuffled(using: &random)
                chosen = Array(chosen.prefix(count))
            } else {
                var seen = excluding
                while chosen.count < count {
                    let id = candidate(Int.random(in: 0..<total, using: &random))
                    if seen.insert(id).inserted { chosen.append(id) }
                }
            }
            return chosen.compactMap { members[$0] }
        }
    }
}
