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
        load.bytesInPerSecond = UInt64(Double(max(0, bytesIn - last.bytesIn)) / seconds)
        load.bytesOutPerSecond = UInt64(Double(max(0, bytesOut - last.bytesOut)) / seconds)
        load.chunkCount = UInt64(max(0, stored.count))
        load.storageUsedBytes = UInt64(max(0, stored.bytes))
        load.storageCapacityBytes = capacity
        load.underReplicated = UInt64(max(0, repair.underReplicated))
        load.repairBacklogBytes = UInt64(max(0, repair.bytesToMove))
        load.hintsPending = UInt64(max(0, hintsPending))
        load.repairBytesPerSecond = UInt64(Double(max(0, repair.bytesMoved - last.moved)) / seconds)
        last = (bytesIn, bytesOut, repair.bytesMoved, now)
        return load
    }
}
