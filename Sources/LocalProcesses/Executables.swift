import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Finding, running and stopping local helper programs (agents, moto_server, tools).
public enum Executables {
    /// The absolute path of `name` on PATH, if present.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs blocking work (process waits, polls, pipe reads) on a dispatch thread, so it never
    /// starves Swift concurrency's small cooperative pool (two threads on a two-core machine).
    public static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Stops `process`: SIGTERM, then SIGKILL if it is still running after 5 s. Polls instead of
    /// `waitUntilExit()`, which spins a run loop and can hang inside Swift concurrency.
    public static func terminate(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { usleep(20_000) }
    }

    /// Runs `name` with `arguments` to completion; returns stdout, throws with stderr on a non-zero exit.
    public static func run(_ name: String, _ arguments: [String]) throws -> String {
        guard let executable = find(name) else { throw LocalProcessError("\(name) not found on PATH") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LocalProcessError("\(name) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
        }
        return String(decoding: stdout, as: UTF8.self)
    }

    /// Runs `name` with `arguments` to completion off the caller's thread; returns its exit
    /// status and everything it wrote, stdout and stderr interleaved (what a test prints).
    public static func runCapturingAll(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        guard let executable = find(name) else { throw LocalProcessError("\(name) not found on PATH") }
        return try await offload {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            while process.isRunning { usleep(10_000) }
            return (process.terminationStatus, text)
        }
    }
}
