import Foundation
import S3

#if canImport(Glibc)
import Glibc
#endif

/// A real S3 server on this machine (for tests, benchmarks and `filestore dev --storage s3`): one `moto_server` process on an ephemeral loopback port, with
/// SigV4 checking turned on (see `credentialsProgram`). Stop it with `stop()`; killing it
/// loses its data (moto is in-memory), `freeze()`/`thaw()` pause it with its data.
public final class MotoServer: @unchecked Sendable {
    // @unchecked: the fields are set once in init and `Process` is only touched by stop/freeze/thaw, which tests call serially.
    public let endpoint: String
    public let accessKey: String
    public let secretKey: String
    public let logFile: URL
    private let process: Process

    /// A client configuration with this server's endpoint and valid credentials.
    public var configuration: S3.Configuration {
        S3.Configuration(endpoint: endpoint, credentials: S3.Credentials(accessKeyID: accessKey, secretAccessKey: secretKey))
    }

    /// The `moto_server` executable on PATH, if any.
    public static var executable: String? { Executables.find("moto_server") }

    /// Starts a server and its IAM credentials; nil (with a printed reason) when moto_server is not installed.
    public static func start() async throws -> MotoServer? {
        guard let executable else {
            print("SKIPPED: moto_server not found on PATH (pip install 'moto[server]'); S3 tests did not run")
            return nil
        }
        return try await Executables.offload { try MotoServer(executable: executable) }
    }

    private init(executable: String) throws {
        // Run moto under the real interpreter: a pyenv shim is a bash script that would not pass SIGTERM on.
        let python = try Executables.run("python3", ["-c", "import sys, moto.server; print(sys.executable)"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try FreePort.pick()
        endpoint = "http://127.0.0.1:\(port)"
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port)-\(UUID().uuidString.prefix(8)).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()

        do {
            try FreePort.waitUntilListening(port: port, timeout: .seconds(30))
            let credentials = try Executables.run("python3", ["-c", Self.credentialsProgram, endpoint])
            let json = try JSONSerialization.jsonObject(with: Data(credentials.utf8)) as? [String: String]
            guard let accessKey = json?["access_key"], let secretKey = json?["secret_key"] else {
                throw LocalProcessError("the moto credentials program printed no credentials: \(credentials)")
            }
            self.accessKey = accessKey
            self.secretKey = secretKey
        } catch {
            Executables.terminate(process)
            throw LocalProcessError("moto_server did not start: \(error)\n\((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")")
        }
    }

    /// Kills the server (its data is gone), waiting off the cooperative pool.
    public func stop() async {
        _ = try? await Executables.offload { self.stopNow() }
    }

    /// Kills the server and blocks until it has exited.
    public func stopNow() {
        kill(process.processIdentifier, SIGCONT)  // a frozen server cannot act on SIGTERM
        Executables.terminate(process)
    }

    /// Pauses the server (SIGSTOP): connections hang, data is kept.
    public func freeze() { kill(process.processIdentifier, SIGSTOP) }

    /// Resumes a frozen server (SIGCONT).
    public func thaw() { kill(process.processIdentifier, SIGCONT) }

    deinit { stopNow() }
}

/// An error from the test harness itself.
public struct LocalProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
