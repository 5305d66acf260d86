import Basics

extension Gossip {
    /// A set of member ids in an array, with each one's position: insert, remove and a random
    /// pick are O(1). Removal moves the last id into the gap, so the order is arbitrary but, for
    /// the same operations, always the same (the simulator must be reproducible).
    struct IndexedIDs: Sendable {
        private(set) var ids: [NodeID] = []
        private var positions: [NodeID: Int] = [:]

        var count: Int { ids.count }

        mutating func insert(_ id: NodeID) {
            guard positions[id] == nil else { return }
            positions[id] = ids.count
            ids.append(id)
        }

        mutating func remove(_ id: NodeID) {
            guard let position = positions.removeValue(forKey: id) else { return }
            let last = ids.removeLast()
            if position < ids.count {
                ids[position] = last
                positions[last] = position
            }
        }
    }

    /// One pending update about a member.
    struct Broadcast: Sendable {
        var subject: NodeID
        var message: Message
        /// Encoded size, computed once: packing runs on every send.
        var size: Int
    }

    /// Pending updates by how many times each has been sent: `levels[t]` were sent `t` times.
    /// A packet takes the least-sent first, and an update sent `retransmitLimit` times is
    /// dropped; a newer update about the same member replaces the queued one. A send visits only
    /// what it packs (and a bounded number that do not fit), not every update queued.
    struct BroadcastQueue: Sendable {
        private var levels: [[Broadcast]] = []
        /// Where each subject's update is queued.
        private var levelOf: [NodeID: Int] = [:]

        var isEmpty: Bool { levelOf.isEmpty }
        var count: Int { levelOf.count }

        mutating func enqueue(_ message: Message, about subject: NodeID, size: Int) {
            if let level = levelOf[subject] { levels[level].removeAll { $0.subject == subject } }
            if levels.isEmpty { levels.append([]) }
            levels[0].append(Broadcast(subject: subject, message: message, size: size))
            levelOf[subject] = 0
        }

        /// Pending updates that fit in `budget` bytes, least-sent first, each counted as sent once more.
        mutating func take(fitting budget: Int, retransmitLimit: Int) -> [Message] {
            // A smaller cluster may lower the limit: what was sent often enough goes now.
            while levels.count > max(retransmitLimit, 1) {
                for broadcast in levels.removeLast() { levelOf[broadcast.subject] = nil }
            }
            var budget = budget
            var taken: [Message] = []
            var promoted: [(level: Int, broadcast: Broadcast)] = []
            var misses = 0
            scan: for level in levels.indices {
                var kept: [Broadcast] = []
                var index = 0
                while index < levels[level].count {
                    let broadcast = levels[level][index]
                    index += 1
                    if broadcast.size <= budget {
                        budget -= broadcast.size
                        taken.append(broadcast.message)
                        promoted.append((level + 1, broadcast))
                    } else {
                        kept.append(broadcast)
                        misses += 1
                    }
                    // A full packet, or enough that do not fit: the rest stays in order.
                    if budget < Self.smallestUpdate || misses >= Self.maxMisses {
                        levels[level] = kept + levels[level][index...]
                        break scan
                    }
                }
                levels[level] = kept
            }
            for (level, broadcast) in promoted {
                if level >= retransmitLimit {
                    levelOf[broadcast.subject] = nil
                    continue
                }
                while levels.count <= level { levels.append([]) }
                levels[level].append(broadcast)
                levelOf[broadcast.subject] = level
            }
            while let last = levels.last, last.isEmpty { levels.removeLast() }
            return taken
        }

        /// No update encodes in fewer bytes than this (a `left` with a short id).
        static let smallestUpdate = 12
        static let maxMisses = 32
    }
}
