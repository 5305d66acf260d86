import NIOCore
import NIOPosix
import Synchronization

/// Guards the CPU a password check costs (one bcrypt round, ~50 ms of a core): checks run on a
/// bounded number of threads with a bounded queue (`busy` beyond it), and each client has a budget
/// of failed checks that refills over time (`rateLimited` once spent), so a flood of wrong
/// passwords costs the agent at most `workers` cores for the burst and then almost nothing.
/// `Accounts` takes from the budget before every check and refunds it when the check succeeds.
final class PasswordGate: Sendable {
    struct Limits: Sendable {
        /// bcrypt rounds at once.
        var workers = max(1, System.coreCount / 2)
        /// Checks waiting for a worker before new ones are refused.
        var queue = 64
        /// Failures a client may have per minute (also the burst).
        var failuresPerMinute = 10
    }

    let limits: Limits
    private let slots: Mutex<Slots>
    private let budgets: Mutex<FailureBudgets>

    init(_ limits: Limits = Limits()) {
        self.limits = limits
        slots = Mutex(Slots())
        budgets = Mutex(FailureBudgets(perMinute: limits.failuresPerMinute))
    }

    /// Takes one failure from the client's budget before its check runs, so concurrent guesses
    /// cannot overdraw it; `rateLimited` (with the seconds to wait) once it is spent.
    func admit(client: String, now: Int64) throws(AuthError) {
        if let wait = budgets.withLock({ $0.take(client, now: now) }) {
            var error = AuthError(.rateLimited, "too many failed sign-ins from this address; retry in \(wait) s")
            error.retryAfterSeconds = wait
            throw error
        }
    }

    /// Gives back what `admit` took, for a check that succeeded.
    func refund(client: String, now: Int64) {
        budgets.withLock { $0.refund(client, now: now) }
    }

    /// Runs `work` (a bcrypt round) on one of the workers, waiting for one if all are busy;
    /// `busy` when the queue is full.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws(AuthError) -> T {
        let admitted: Bool = await withCheckedContinuation { continuation in
            let resume: Bool? = slots.withLock { slots in
                if slots.running < limits.workers {
                    slots.running += 1
                    return true
                }
                guard slots.waiting.count < limits.queue else { return false }
                slots.waiting.append(continuation)
                return nil
            }
            if let resume { continuation.resume(returning: resume) }
        }
        guard admitted else {
            var error = AuthError(.busy, "too many password checks at once; retry")
            error.retryAfterSeconds = 1
            throw error
        }
        defer { release() }
        // The shared thread pool, not the cooperative one: bcrypt must not stall request handling.
        if let result = try? await NIOThreadPool.singleton.runIfActive(work) { return result }
        return work()
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release() {
        let next = slots.withLock { slots -> CheckedContinuation<Bool, Never>? in
            guard !slots.waiting.isEmpty else {
                slots.running -= 1
                return nil
            }
            return slots.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }

    private struct Slots {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
    }
}

/// Per-client budgets of failed sign-ins: a token bucket per client of `perMinute` failures that
/// refills continuously. Pure: time (milliseconds) is passed in. Clients whose bucket is full
/// again are forgotten when the table grows, so it stays bounded by the clients failing recently.
struct FailureBudgets: Sendable {
    let perMinute: Int
    private var spent: [String: (level: Double, at: Int64)] = [:]
    static let maxClients = 100_000

    init(perMinute: Int) { self.perMinute = max(1, perMinute) }

    /// Failures the client has "in the bucket" now (0 = none recently).
    private func level(_ client: String, now: Int64) -> Double {
        guard let entry = spent[client] else { return 0 }
        let refilled = Double(max(0, now - entry.at)) * Double(perMinute) / 60_000
        return max(0, entry.level - refilled)
    }

    /// Takes one failure from the client's budget; nil when taken, else the seconds until the
    /// client may try again.
    mutating func take(_ client: String, now: Int64) -> Int? {
        let current = level(client, now: now)
        guard current <= Double(perMinute) - 1 else {
            let excess = current - (Double(perMinute) - 1)
            return max(1, Int((excess * 60 / Double(perMinute)).rounded(.up)))
        }
        makeRoom(now: now)
        spent[client] = (current + 1, now)
        return nil
    }

    mutating func refund(_ client: String, now: Int64) {
        guard spent[client] != nil else { return }
        spent[client] = (max(0, level(client, now: now) - 1), now)
    }

    private mutating func makeRoom(now: Int64) {
        guard spent.count >= Self.maxClients else { return }
        spent = spent.filter { level($0.key, now: now) > 0 }
        // Still full of clients failing right now: drop the oldest half rather than grow.
        if spent.count >= Self.maxClients {
            let kept = spent.sorted { $0.value.at > $1.value.at }.prefix(Self.maxClients / 2)
            spent = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }
}
