import Logging

/// Runs `body` over and over until the task is cancelled; `body` returns how long to wait before
/// the next run. A failure is logged and retried after `retryAfter`; it never ends the loop.
func runPeriodically(_ what: String, logger: Logger, retryAfter: Duration, _ body: () async throws -> Duration) async {
    while !Task.isCancelled {
        var wait = retryAfter
        do {
            wait = try await body()
        } catch is CancellationError {
            return
        } catch {
            logger.warning("\(what) failed; retrying", metadata: ["error": "\(error)"])
        }
        try? await Task.sleep(for: wait)
    }
}
