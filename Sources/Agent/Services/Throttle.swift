import Basics

/// Paces background traffic (repair pushes, scrub reads) to a rate in bytes per second, so it
/// never starves client traffic: a token bucket holding at most one second of tokens.
public actor Throttle {
    let bytesPerSecond: Double
    private var available: Double
    private var refilled = ContinuousClock.now

    public init(bytesPerSecond: Int64) {
        self.bytesPerSecond = Double(max(bytesPerSecond, 1))
        self.available = self.bytesPerSecond
    }

    /// Waits until `bytes` may be sent.
    public func take(_ bytes: Int) async throws {
        refill()
        available -= Double(bytes)
        if available < 0 {
            let seconds = -available / bytesPerSecond
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            refill()
        }
    }

    private func refill() {
        let now = ContinuousClock.now
        let elapsed = now - refilled
        refilled = now
        let seconds = elapsed.inSeconds
        available = min(bytesPerSecond, available + seconds * bytesPerSecond)
    }
}
