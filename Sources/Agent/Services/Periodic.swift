import Logging

/// Runs `body` over and over until the task is cancelled; `body` returns how long to wait before
/// the next run, cut short when `wakeEarly` (asked every second) says so. A failure is logged and
/// retried after `retryAfter`; it never ends the loop.
func runPeriodically(_ what: String, logger: Logger, retryAfter: Duration, wakeEarly: () -> Bool = { false }, _ body: () async throws -> Duration) async {
    while !Task.isCancelled {
        var wait = retryAfter
        do {
            wait = try await body()
        } catch is CancellationError {
            return
        } catch {
            logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)"])
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: wait)
        while !Task.isCancelled, clock.now < deadline, !wakeEarly() {
            try? await Task.sleep(for: min(.seconds(1), clock.now.duration(to: deadline)))
        }
    }
}
