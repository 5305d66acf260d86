import Basics

extension Ring {
    /// What changes hands when the ring goes from one membership to another: per (from, to)
    /// node pair, the key space whose copy moves, and — for keys supplied by the caller, such
    /// as the chunks a node actually stores — how many keys and bytes.
    public struct MovePlan: Sendable, Equatable {
        /// A direction data flows in: an old owner that gives up a copy to a new owner.
        public struct Route: Hashable, Sendable, Comparable {
            public var from: NodeID
            public var to: NodeID
            public static func < (lhs: Route, rhs: Route) -> Bool { (lhs.from, lhs.to) < (rhs.from, rhs.to) }
        }

        /// How much moves along one route (or in total).
        public struct Amount: Sendable, Equatable {
            /// Fraction of the key space whose copy moves (exact, from the token arcs).
            public var keySpace: Double = 0
            /// Supplied keys whose copy moves.
            public var keys: Int = 0
            /// Bytes of the supplied keys whose copy moves.
            public var bytes: UInt64 = 0
        }

        /// The replication factor the plan was computed at.
        public var replication: Int
        /// Movement per route.
        public var routes: [Route: Amount] = [:]
        /// Supplied keys examined, and their bytes (the denominators for the supplied figures).
        public var keysExamined = 0
        public var bytesExamined: UInt64 = 0

        /// Everything that moves, summed over routes.
        public var total: Amount {
            routes.values.reduce(into: Amount()) {
                $0.keySpace += $1.keySpace
                $0.keys += $1.keys
                $0.bytes += $1.bytes
            }
        }

        /// Fraction of all replica copies that move (key space moved ÷ replication).
        public var movedFraction: Double { total.keySpace / Double(replication) }

        /// What `node` receives, summed over senders.
        public func gained(by node: NodeID) -> Amount { sum { $0.to == node } }
        /// What `node` hands over, summed over receivers.
        public func lost(by node: NodeID) -> Amount { sum { $0.from == node } }

        private func sum(where matches: (Route) -> Bool) -> Amount {
            routes.filter { matches($0.key) }.values.reduce(into: Amount()) {
                $0.keySpace += $1.keySpace
                $0.keys += $1.keys
                $0.bytes += $1.bytes
            }
        }

        /// Routes a key takes when its owners change from `old` to `new` (both in preference order):
        /// the i-th owner dropped hands its copy to the i-th owner added. When the new list is longer
        /// (the ring grew past fewer than `replication` members) the first old owner sends the extra copy.
        static func routes(from old: [NodeID], to new: [NodeID]) -> [Route] {
            guard let source = old.first else { return [] }  // nobody holds it: nothing to move
            let dropped = old.filter { !new.contains($0) }
            let added = new.filter { !old.contains($0) }
            return added.enumerated().map { index, target in
                Route(from: index < dropped.count ? dropped[index] : source, to: target)
            }
        }
    }

    /// The movement needed to go from this ring to `new` at `replication`: exact key-space
    /// fractions from the union of both rings' token arcs, plus counts and bytes for `keys`.
    public func plan(to new: Ring, replication: Int, keys: some Sequence<(RingPosition, UInt64)>) -> MovePlan {
        var plan = MovePlan(replication: max(replication, 1))
        let boundaries = Array(Set(tokenPositions).union(new.tokenPositions)).sorted()
        forEachArc(boundaries: boundaries) { arc, end in
            for route in MovePlan.routes(from: owners(of: end, replication: replication), to: new.owners(of: end, replication: replication)) {
                plan.routes[route, default: .init()].keySpace += arc
            }
        }
        for (position, bytes) in keys {
            plan.keysExamined += 1
            plan.bytesExamined += bytes
            for route in MovePlan.routes(from: owners(of: position, replication: replication), to: new.owners(of: position, replication: replication)) {
                plan.routes[route, default: .init()].keys += 1
                plan.routes[route, default: .init()].bytes += bytes
            }
        }
        return plan
    }

    /// The key-space movement needed to go from this ring to `new` at `replication`.
    public func plan(to new: Ring, replication: Int) -> MovePlan {
        plan(to: new, replication: replication, keys: [(RingPosition, UInt64)]())
    }
}
