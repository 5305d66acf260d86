import Basics
import Ring

/// Where the copies of one key go (DESIGN.md §6): the first `replication` available nodes of its
/// preference list. Each unavailable primary owner is stood in for by the next available node,
/// which takes the copy with a hint naming the owner, so the key still lands on `replication`
/// distinct nodes. Pure: liveness is passed in.
public struct WritePlacement: Sendable, Equatable {
    /// One copy to write: the node and, for a stand-in, the owner it holds the copy for.
    public struct Target: Sendable, Hashable {
        public var node: NodeID
        public var hintFor: NodeID?

        public init(node: NodeID, hintFor: NodeID? = nil) {
            self.node = node
            self.hintFor = hintFor
        }
    }

    public var targets: [Target]

    /// Targets for a key with this preference list; `isAvailable` says which nodes may be written.
    public init(preferenceList: [NodeID], replication: Int, isAvailable: (NodeID) -> Bool) {
        let primaries = preferenceList.prefix(replication)
        var targets = primaries.filter(isAvailable).map { Target(node: $0) }
        var missing = primaries.filter { !isAvailable($0) }[...]
        for node in preferenceList.dropFirst(replication) where !missing.isEmpty && isAvailable(node) {
            targets.append(Target(node: node, hintFor: missing.popFirst()))
        }
        self.targets = targets
    }
}
