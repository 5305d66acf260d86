import Gossip

/// Turns the traffic counters, what is stored and the repair progress into the load report
/// gossip carries: rates are differences since the last measurement.
struct LoadMeter {
    let traffic: TrafficCounters
    /// Hints held here (counted less often than the rest: it is a table scan).
    var hintsPending = 0
    private var last: (bytesIn: Int, bytesOut: Int, moved: Int64, at: ContinuousClock.Instant)

    init(traffic: TrafficCounters, now: ContinuousClock.Instant = .now) {
        self.traffic = traffic
        last = (traffic.bytesIn.load(ordering: .relaxed), traffic.bytesOut.load(ordering: .relaxed), 0, now)
    }

    /// The report as of `now`.
    mutating func measure(stored: (count: Int, bytes: Int64), capacity: UInt64, repair: RepairProgress.Figures, now: ContinuousClock.Instant = .now) -> Gossip.LoadReport {
        let seconds = max(0.001, (now - last.at).inSeconds)
        let bytesIn = traffic.bytesIn.load(ordering: .relaxed)
        let bytesOut = traffic.bytesOut.load(ordering: .relaxed)
        var load = Gossip.LoadReport()
        load.inFlightRequests = UInt32(clamping: traffic.inFlight.load(ordering: .relaxed))
        // The counters wrap (they only ever grow); the difference since the last measurement is
        // what moved, and wrapping subtraction gets it right across a wrap.
        load.bytesInPerSecond = Self.rate(bytesIn &- last.bytesIn, over: seconds)
        load.bytesOutPerSecond = Self.rate(bytesOut &- last.bytesOut, over: seconds)
        load.chunkCount = UInt64(max(0, stored.count))
        load.storageUsedBytes = UInt64(max(0, stored.bytes))
        load.storageCapacityBytes = capacity
        load.underReplicated = UInt64(max(0, repair.underReplicated))
        load.atRisk = UInt64(max(0, repair.atRisk))
        load.repairBacklogBytes = UInt64(max(0, repair.bytesToMove))
        load.hintsPending = UInt64(max(0, hintsPending))
        load.repairBytesPerSecond = Self.rate(Int(clamping: repair.bytesMoved &- last.moved), over: seconds)
        last = (bytesIn, bytesOut, repair.bytesMoved, now)
        return load
    }

    /// `amount / seconds`, never negative and never past UInt64 (a Double conversion out of range traps).
    static func rate(_ amount: Int, over seconds: Double) -> UInt64 {
        let value = Double(max(0, amount)) / seconds
        return value.isFinite && value < 1.8e19 ? UInt64(value) : UInt64.max
    }
}
