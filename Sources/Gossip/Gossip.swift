/// SWIM + Lifeguard membership and load dissemination (DESIGN.md §5).
///
/// The protocol core is a pure state machine; the UDP shell that feeds it lives beside it.
public enum Gossip {}
