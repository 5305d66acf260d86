import ArgumentParser

/// `filestore-bench`: prints performance figures, one line per metric (run through `scripts/bench`).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filestore-bench",
        abstract: "Print filestore performance figures.",
        subcommands: [RingBench.self, BlobBench.self, GossipBench.self, AgentBench.self, CompareBench.self]
    )
}

/// Seconds elapsed while running `body`, and its result.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let result = try body()
    let elapsed = ContinuousClock.now - start
    return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
