import Foundation

extension Gossip {
    /// Protocol timings, defaulting to HashiCorp memberlist's LAN profile (DESIGN.md §5).
    public struct Settings: Sendable, Equatable {
        /// How often a member probes one peer.
        public var probeInterval: Duration = .seconds(1)
        /// How long to wait for a direct ack before asking others to probe indirectly.
        public var probeTimeout: Duration = .milliseconds(500)
        /// How many members are asked to probe indirectly.
        public var indirectProbes = 3
        /// Upper bound of the Lifeguard local-health multiplier.
        public var maxLocalHealth = 8
        /// Base of the suspicion timeout, scaled by log10 of the cluster size.
        public var suspicionMultiplier = 4
        /// Without confirmations the suspicion timeout is this many times its minimum.
        public var suspicionMaxTimeoutMultiplier = 6
        /// Base of the retransmit limit, scaled by log10 of the cluster size.
        public var retransmitMultiplier = 4
        /// How often pending updates are gossiped.
        public var gossipInterval: Duration = .milliseconds(200)
        /// How many members each gossip round sends to.
        public var gossipFanout = 3
        /// How often a full-state push-pull exchange runs with one random peer.
        public var pushPullInterval: Duration = .seconds(30)
        /// The largest datagram sent or accepted.
        public var maxPacketSize = 1400

        public init() {}

        /// Minimum suspicion timeout for a cluster of `members`: `multiplier × max(1, log10 N) × probe interval`.
        public func minSuspicionTimeout(members: Int) -> Duration {
            let scale = max(1, log10(Double(max(members, 1))))
            return probeInterval * (Double(suspicionMultiplier) * scale)
        }

        /// Suspicion timeout with no independent confirmations yet.
        public func maxSuspicionTimeout(members: Int) -> Duration {
            minSuspicionTimeout(members: members) * suspicionMaxTimeoutMultiplier
        }

        /// The push-pull interval for a cluster of `members`, scaled as memberlist does above 32:
        /// `× (ceil(log2 N − log2 32) + 1)`, so 90 s at 100 and 180 s at 1,000. A full state of a
        /// thousand members is about a hundred packets; unscaled it would be most of the traffic.
        public func pushPullInterval(members: Int) -> Duration {
            guard members > Self.pushPullScaleThreshold else { return pushPullInterval }
            let multiplier = (log2(Double(members)) - log2(Double(Self.pushPullScaleThreshold))).rounded(.up) + 1
            return pushPullInterval * multiplier
        }

        static let pushPullScaleThreshold = 32

        /// How many times an update is piggybacked before it is dropped: `multiplier × ceil(log10(N + 1))`.
        public func retransmitLimit(members: Int) -> Int {
            retransmitMultiplier * Int(log10(Double(max(members, 0) + 1)).rounded(.up))
        }
    }
}
