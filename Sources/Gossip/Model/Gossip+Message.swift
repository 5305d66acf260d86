import Basics
import Ring

extension Gossip {
    /// One protocol message. Several travel in one packet; state changes piggyback on pings and acks.
    public enum Message: Sendable, Equatable {
        /// Direct probe of `target`; answered with `ack` by that member only.
        case ping(sequence: UInt64, target: NodeID, from: NodeID)
        /// Answer to a ping (or a relayed ping on behalf of a `pingRequest`).
        case ack(sequence: UInt64, from: NodeID)
        /// A relay's report that it got no ack from the target in time (Lifeguard).
        case nack(sequence: UInt64, from: NodeID)
        /// Asks the receiver to ping `target` on the sender's behalf.
        case pingRequest(sequence: UInt64, target: NodeID, targetAddress: Address, from: NodeID)
        /// A member is alive at this incarnation, with its metadata.
        case alive(Member)
        /// `from` suspects the member at this incarnation.
        case suspect(id: NodeID, incarnation: UInt64, from: NodeID)
        /// `from` declares the member dead at this incarnation.
        case dead(id: NodeID, incarnation: UInt64, from: NodeID)
        /// The member left gracefully; final.
        case left(id: NodeID, incarnation: UInt64)
        /// A member's load report (does not change incarnations).
        case load(id: NodeID, version: UInt64, report: LoadReport)
        /// Push-pull: part of the sender's full member table; `reply` is false on the push, true on the answer.
        case state(members: [Member], reply: Bool, from: NodeID)
    }
}
