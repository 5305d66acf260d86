import ArgumentParser
import Foundation

/// Where the client finds the cluster and its credentials (DESIGN.md §11): `--url`/FILESTORE_URL
/// (default http://127.0.0.1:8080), `--token`/FILESTORE_TOKEN or the token saved by
/// `filestore login`; FILESTORE_USER and FILESTORE_PASSWORD give Basic credentials instead.
struct ClientOptions: ParsableArguments {
    @Option(help: "Agent URL (or FILESTORE_URL; default http://127.0.0.1:8080 or the one saved by login).") var url: String?
    @Option(help: "Bearer token (or FILESTORE_TOKEN; default the one saved by login).") var token: String?
    @Option(help: "A CA certificate (PEM) to trust for https:// agents, like a dev cluster's tls/ca.crt (or FILESTORE_CA_CERT).") var caCert: String?

    /// The CA file to trust, if any.
    var authorityFile: String? { caCert ?? environment["FILESTORE_CA_CERT"].flatMap { $0.isEmpty ? nil : $0 } }

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The agent's base URL, without a trailing slash.
    var baseURL: String {
        var text = url ?? environment["FILESTORE_URL"] ?? SavedCredentials.load()?.url ?? "http://127.0.0.1:8080"
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// The `Authorization` header value, or nil when none is configured.
    var authorization: String? {
        if let token = token ?? environment["FILESTORE_TOKEN"], !token.isEmpty { return "Bearer \(token)" }
        if let user = environment["FILESTORE_USER"], let password = environment["FILESTORE_PASSWORD"] {
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        // A token is good on every agent of the cluster it came from, whichever one is asked.
        if let saved = SavedCredentials.load() { return "Bearer \(saved.token)" }
        return nil
    }
}

/// The token `filestore login` saved: `$XDG_CONFIG_HOME/filestore/credentials.json` (or
/// `~/.config/filestore/…`), readable by its owner only.
struct SavedCredentials: Codable {
    var url: String
    var user: String
    var token: String
    var expiresAt: String

    enum CodingKeys: String, CodingKey {
        case url, user, token
        case expiresAt = "expires_at"
    }

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
        return base + "/filestore/credentials.json"
    }

    static func load() -> SavedCredentials? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(SavedCredentials.self, from: data)
    }

    /// Writes the file with 0600 permissions (its folder 0700) before any secret is in it.
    func save() throws {
        let directory = (Self.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: Self.path, contents: Data(), attributes: [.posixPermissions: 0o600]) else {
            throw ClientError("cannot create \(Self.path)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: Self.path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: Self.path))
        try handle.write(contentsOf: try encoder.encode(self))
        try handle.close()
    }
}
