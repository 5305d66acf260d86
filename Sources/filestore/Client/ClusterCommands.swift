import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `filestore status`: the nodes and the cluster's replication health; exit code 2 when degraded.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the cluster's nodes and replication health.",
        discussion: "Exit code 2 when the cluster is degraded: a ring member not alive, or data not yet on all its owners."
    )
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print the JSON answer.") var json = false

    func run() async throws {
        var degraded = false
        try await withConnection(client) { connection in
            let cluster = try await connection.json(.GET, "/api/v1/cluster") as? [String: Any] ?? [:]
            let nodes = cluster["nodes"] as? [[String: Any]] ?? []
            let health = cluster["health"] as? [String: Any] ?? [:]
            let members = nodes.filter { ($0["ring_state"] as? String) != "left" }
            degraded = members.contains { ($0["status"] as? String) != "alive" } || (health["under_replicated_chunks"] as? Int ?? 0) > 0
                || (health["hints_pending"] as? Int ?? 0) > 0
            if json {
                say(String(decoding: try JSONSerialization.data(withJSONObject: cluster, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                return
            }
            say("cluster \(cluster["name"] as? String ?? "?") (answered by \(cluster["self"] as? String ?? "?")), replication \(cluster["replication"] as? Int ?? 0)")
            let header = ["node", "status", "zone", "ring", "share", "in-flight", "used / capacity", "chunks"]
            var rows = [header]
            for node in nodes {
                let load = node["load"] as? [String: Any] ?? [:]
                let storage = node["storage"] as? [String: Any] ?? [:]
                let used = ProgressBar.size(Int64(storage["used_bytes"] as? Int ?? 0))
                let capacity = (storage["capacity_bytes"] as? Int ?? 0) > 0 ? ProgressBar.size(Int64(storage["capacity_bytes"] as? Int ?? 0)) : "?"
                rows.append([
                    node["id"] as? String ?? "?", node["status"] as? String ?? "?", (node["zone"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "-",
                    node["ring_state"] as? String ?? "?", String(format: "%.1f%%", (node["ring_share"] as? Double ?? 0) * 100),
                    String(load["in_flight_requests"] as? Int ?? 0), "\(used) / \(capacity)", String(storage["chunks"] as? Int ?? 0),
                ])
            }
            let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows { say(row.enumerated().map { $1.padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined()) }
            let eta = health["eta_seconds"] as? Int
            say("")
            say("under-replicated: \(health["under_replicated_chunks"] as? Int ?? 0)   hints pending: \(health["hints_pending"] as? Int ?? 0)   to move: \(ProgressBar.size(Int64(health["bytes_to_move"] as? Int ?? 0)))   repair: \(ProgressBar.size(Int64(health["repair_rate_bytes_per_s"] as? Int ?? 0)))/s   ETA: \(eta.map { "\($0)s" } ?? "-")")
            say(degraded ? "DEGRADED" : "healthy")
        }
        if degraded { throw ExitCode(2) }
    }
}

/// `filestore ring plan --add ID | --remove ID`: what a ring change would move.
struct RingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ring", abstract: "Ring operations.", subcommands: [RingPlanCommand.self])
}

struct RingPlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Preview what adding or removing a node would move.")
    @OptionGroup var client: ClientOptions
    @Option(help: "A node id to add.") var add: String?
    @Option(help: "Weight of the added node.") var weight: Double = 1
    @Option(help: "A ring member to remove.") var remove: String?
    @Flag(help: "Print the JSON answer.") var json = false

    func validate() throws {
        guard (add == nil) != (remove == nil) else { throw ValidationError("give exactly one of --add ID or --remove ID") }
    }

    func run() async throws {
        try await withConnection(client) { connection in
            let query = add.map { "add=\(APIConnection.encode(query: $0))&weight=\(weight)" } ?? "remove=\(APIConnection.encode(query: remove ?? ""))"
            let plan = try await connection.json(.GET, "/api/v1/ring/plan?" + query) as? [String: Any] ?? [:]
            if json {
                say(String(decoding: try JSONSerialization.data(withJSONObject: plan, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                return
            }
            say("\(plan["change"] as? String ?? ""): \(String(format: "%.2f%%", (plan["moved_fraction"] as? Double ?? 0) * 100)) of the key space moves; \(plan["chunks"] as? Int ?? 0) chunk copies, \(ProgressBar.size(Int64(plan["bytes"] as? Int ?? 0))) of the \(plan["chunks_examined"] as? Int ?? 0) chunks stored now")
            for move in plan["moves"] as? [[String: Any]] ?? [] {
                say("  \(move["from"] as? String ?? "?") → \(move["to"] as? String ?? "?"): \(move["chunks"] as? Int ?? 0) chunks, \(ProgressBar.size(Int64(move["bytes"] as? Int ?? 0))), \(String(format: "%.2f%%", (move["key_space"] as? Double ?? 0) * 100)) of the key space")
            }
        }
    }
}

/// `filestore login`: trade a password for a token and save it (0600).
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Log in and save a token for later commands.")
    @OptionGroup var client: ClientOptions
    @Option(help: "User name.") var user: String = "admin"
    @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

    func run() async throws {
        try await runClient {
            let password = try readPassword(prompt: "password for \(user): ", fromStdin: passwordStdin)
            try await APIConnection.with(client) { connection in
                let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
                let answer = try await connection.json(.POST, "/api/v1/auth/tokens", authorization: basic) as? [String: Any] ?? [:]
                guard let token = answer["token"] as? String else { throw ClientError("the agent returned no token") }
                let saved = SavedCredentials(url: client.baseURL, user: user, token: token, expiresAt: answer["expires_at"] as? String ?? "")
                try saved.save()
                say("logged in to \(client.baseURL) as \(user); token saved in \(SavedCredentials.path) (expires \(saved.expiresAt))")
            }
        }
    }
}

/// A password from stdin (one line) or a terminal prompt without echo.
func readPassword(prompt: String, fromStdin: Bool) throws -> String {
    if fromStdin || isatty(STDIN_FILENO) != 1 {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw ClientError("no password on standard input") }
        return line
    }
    guard let entered = getpass(prompt), let text = String(validatingCString: entered), !text.isEmpty else { throw ClientError("no password entered") }
    return text
}

/// `filestore user add/list/rm/passwd`.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users (admins; passwd also for yourself).",
        subcommands: [UserAdd.self, UserList.self, UserRemove.self, UserPassword.self]
    )

    struct UserAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Create a user.")
        @OptionGroup var client: ClientOptions
        @Argument var name: String
        @Option(help: "user or admin.") var role: String = "user"
        @Flag(help: "Read the password from standard input.") var passwordStdin = false

        func run() async throws {
            try await runClient {
                let password = try readPassword(prompt: "password for \(name): ", fromStdin: passwordStdin)
                try await APIConnection.with(client) { connection in
                    _ = try await connection.json(.POST, "/api/v1/users", body: ["name": name, "password": password, "role": role])
                    say("created \(role) \(name)")
                }
            }
        }
    }

    struct UserList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List users.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await withConnection(client) { connection in
                let answer = try await connection.json(.GET, "/api/v1/users") as? [String: Any] ?? [:]
                for user in answer["users"] as? [[String: Any]] ?? [] { say("\(user["name"] as? String ?? "?")\t\(user["role"] as? String ?? "?")") }
            }
        }
    }

    struct UserRemove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a user (their tokens stop working).")
        @OptionGroup var client: ClientOptions
        @Argument var name: String

        func run() async throws {
            try await withConnection(client) { connection in
                try await connection.delete("/api/v1/users/" + APIConnection.encode(query: name))
                say("deleted user \(name)")
            }
        }
    }

    struct UserPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Change a password.")
        @OptionGroup var client: ClientOptions
        @Argument var name: String
        @Flag(help: "Read the new password from standard input.") var passwordStdin = false

        func run() async throws {
            try await runClient {
                let password = try readPassword(prompt: "new password for \(name): ", fromStdin: passwordStdin)
                try await APIConnection.with(client) { connection in
                    _ = try await connection.json(.PATCH, "/api/v1/users/" + APIConnection.encode(query: name), body: ["password": password])
                    say("changed the password of \(name)")
                }
            }
        }
    }
}
