extension Duration {
    /// The duration in seconds, fractions included (for rates and printed timings).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in whole milliseconds, rounded toward zero (for wall-clock arithmetic and config text).
    public var inMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
