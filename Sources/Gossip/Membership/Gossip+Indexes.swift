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

        /// A uniformly random id other than `excluded`, nil when there is none.
        func randomElement(excluding excluded: NodeID? = nil, using random: inout some RandomNumberGenerator) -> NodeID? {
            let skipped = excluded.flatMap { positions[$0] }
            let choices = ids.count - (skipped == nil ? 0 : 1)
            guard choices > 0 else { return nil }
            let index = Int.random(in: 0..<choices, using: &random)
            if let skipped, index >= skipped { return ids[index + 1] }
            return ids[index]
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
        /// A queued update and the stamp it was queued with: an entry whose stamp is no longer its
        /// subject's current one was replaced and is skipped (and dropped) when reached.
        private struct Entry: Sendable {
            var broadcast: Broadcast
            var stamp: UInt64
        }

        /// `levels[t]`: updates sent `t` times, the newest last (taken first, as memberlist does).
        private var levels: [[Entry]] = []
        /// The stamp of each subject's current update.
        private var current: [NodeID: UInt64] = [:]
        private var nextStamp: UInt64 = 0
        /// Replaced entries still in `levels`; compacted away once they outnumber the live ones.
        private var stale = 0

        var isEmpty: Bool { current.isEmpty }
        var count: Int { current.count }

        mutating func enqueue(_ message: Message, about subject: NodeID, size: Int) {
            nextStamp += 1
            if current.updateValue(nextStamp, forKey: subject) != nil { stale += 1 }
            if levels.isEmpty { levels.append([]) }
            levels[0].append(Entry(broadcast: Broadcast(subject: subject, message: message, size: size), stamp: nextStamp))
            if stale > current.count + 64 { compact() }
        }

        /// Pending updates that fit in `budget` bytes, least-sent first, each counted as sent once more.
        mutating func take(fitting budget: Int, retransmitLimit: Int) -> [Message] {
            // A smaller cluster may lower the limit: what was sent often enough goes now.
            while levels.count > max(retransmitLimit, 1) {
                for entry in levels.removeLast() {
                    if isCurrent(entry) { current[entry.broadcast.subject] = nil } else { stale -= 1 }
                }
            }
            var budget = budget
            var taken: [Message] = []
            var promoted: [(level: Int, entry: Entry)] = []
            var misses = 0
            scan: for level in levels.indices {
                var skipped: [Entry] = []
                defer { levels[level].append(contentsOf: skipped.reversed()) }
                while let entry = levels[level].popLast() {
                    guard isCurrent(entry) else { stale -= 1; continue }
                    if entry.broadcast.size <= budget {
                        budget -= entry.broadcast.size
                        taken.append(entry.broadcast.message)
                        promoted.append((level + 1, entry))
                    } else {
                        skipped.append(entry)
                        misses += 1
                    }
                    // A full packet, or enough that do not fit: the rest stays in order.
                    if budget < Self.smallestUpdate || misses >= Self.maxMisses { break scan }
                }
            }
            for (level, entry) in promoted {
                guard level < retransmitLimit else {
                    current[entry.broadcast.subject] = nil
                    continue
                }
                while levels.count <= level { levels.append([]) }
                levels[level].append(entry)
            }
            while let last = levels.last, last.isEmpty { levels.removeLast() }
            return taken
        }

        private func isCurrent(_ entry: Entry) -> Bool { current[entry.broadcast.subject] == entry.stamp }

        /// Drops replaced entries: O(queued), run only after as many replacements, so O(1) amortized.
        private mutating func compact() {
            let current = current
            for level in levels.indices { levels[level].removeAll { current[$0.broadcast.subject] != $0.stamp } }
            while let last = levels.last, last.isEmpty { levels.removeLast() }
            stale = 0
        }

        /// No update encodes in fewer bytes than this (a `left` with a short id).
        static let smallestUpdate = 12
        static let maxMisses = 32
    }
}
