import ArgumentParser
import Foundation
import PublicAPI
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
            let cluster = try await connection.get("/api/v1/cluster", as: ClusterStatus.self)
            degraded = cluster.isDegraded
            if json {
                say(try APIJSON.text(cluster))
                return
            }
            say("cluster \(cluster.name) (answered by \(cluster.answeredBy)), replication \(cluster.replication)")
            let header = ["node", "status", "zone", "ring", "share", "in-flight", "used / capacity", "chunks", "s3"]
            var rows = [header]
            for node in cluster.nodes {
                let used = ProgressBar.size(Int64(clamping: node.storage.usedBytes))
                let capacity = node.storage.capacityBytes > 0 ? ProgressBar.size(Int64(clamping: node.storage.capacityBytes)) : "?"
                rows.append([
                    node.id, node.status, node.zone.isEmpty ? "-" : node.zone, node.ringState, String(format: "%.1f%%", node.ringShare * 100),
                    String(node.load.inFlightRequests), "\(used) / \(capacity)", String(node.storage.chunks), node.s3 ?? "-",
                ])
            }
            let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows { say(row.enumerated().map { $1.padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined()) }
            let health = cluster.health
            say("")
            say("at risk: \(health.atRisk ?? 0)   under-replicated: \(health.underReplicatedChunks ?? 0)   hints pending: \(health.hintsPending)   to move: \(ProgressBar.size(Int64(health.bytesToMove ?? 0)))   repair: \(ProgressBar.size(Int64(health.repairRateBytesPerSecond ?? 0)))/s   ETA: \(health.etaSeconds.map { "\($0)s" } ?? "-")")
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
            let plan = try await connection.get("/api/v1/ring/plan?" + query, as: RingPlan.self)
            if json {
                say(try APIJSON.text(plan))
                return
            }
            say("\(plan.change): \(String(format: "%.2f%%", plan.movedFraction * 100)) of the key space moves; \(plan.chunks) chunk copies, \(ProgressBar.size(Int64(clamping: plan.bytes))) of the \(plan.chunksExamined) chunks stored now")
            for move in plan.moves {
                say("  \(move.from) → \(move.to): \(move.chunks) chunks, \(ProgressBar.size(Int64(clamping: move.bytes))), \(String(format: "%.2f%%", move.keySpace * 100)) of the key space")
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
                let grant = try await connection.send(.POST, "/api/v1/auth/tokens", body: TokenRequest?.none, authorization: basic, as: TokenGrant.self)
                let saved = SavedCredentials(url: client.baseURL, user: user, token: grant.token, expiresAt: grant.expiresAt)
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
        @Option(help: "user or admin.") var role: Role = .user
        @Flag(help: "Read the password from standard input.") var passwordStdin = false

        func run() async throws {
            try await runClient {
                let password = try readPassword(prompt: "password for \(name): ", fromStdin: passwordStdin)
                try await APIConnection.with(client) { connection in
                    _ = try await connection.send(.POST, "/api/v1/users", body: NewUser(name: name, password: password, role: role), as: UserInfo.self)
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
                for user in try await connection.get("/api/v1/users", as: PublicAPI.UserList.self).users { say("\(user.name)\t\(user.role.rawValue)") }
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
        @Flag(help: "Read the password(s) from standard input, one per line (the current one first with --current).") var passwordStdin = false
        @Flag(help: "Give your current password first: needed to change your own, unless you are an admin.") var current = false

        func run() async throws {
            try await runClient {
                let currentPassword = current ? try readPassword(prompt: "current password of \(name): ", fromStdin: passwordStdin) : nil
                let password = try readPassword(prompt: "new password for \(name): ", fromStdin: passwordStdin)
                try await APIConnection.with(client) { connection in
                    let change = UserChange(password: password, currentPassword: currentPassword)
                    _ = try await connection.send(.PATCH, "/api/v1/users/" + APIConnection.encode(query: name), body: change, as: UserInfo.self)
                    say("changed the password of \(name)")
                }
            }
        }
    }
}

extension Role: ExpressibleByArgument {}

/// `filestore token list|revoke`: the bearer tokens that are still good, and revoking one.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "List or revoke bearer tokens (your own; everyone's for admins).",
        subcommands: [TokenListCommand.self, TokenRevoke.self]
    )

    struct TokenListCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tokens still good: id, user, expiry (* = the one in use).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await withConnection(client) { connection in
                for token in try await connection.get("/api/v1/auth/tokens", as: TokenList.self).tokens {
                    say("\(token.id)\t\(token.user)\t\(token.expiresAt)\(token.current ? "\t*" : "")")
                }
            }
        }
    }

    struct TokenRevoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token by its id (from token list).")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            try await withConnection(client) { connection in
                try await connection.delete("/api/v1/auth/tokens/" + APIConnection.encode(query: id))
                say("revoked token \(id.prefix(16))…")
            }
        }
    }
}

/// `filestore key create|list|rm`: a user's S3 access keys (your own; anyone's for admins).
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Manage S3 access keys (your own; anyone's for admins).",
        subcommands: [KeyCreate.self, KeyList.self, KeyRemove.self]
    )

    static func path(_ user: String) -> String { "/api/v1/users/" + APIConnection.encode(query: user) + "/keys" }

    struct KeyCreate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Make an access key; its secret is shown this once.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user the key signs for.") var user: String

        func run() async throws {
            try await runClient {
                try await APIConnection.with(client) { connection in
                    let grant = try await connection.send(.POST, KeyCommand.path(user), body: nil as TokenRequest?, as: AccessKeyGrant.self)
                    say("access key id:     \(grant.accessKeyID)")
                    say("secret access key: \(grant.secretAccessKey)")
                    say("(the secret is not shown again)")
                }
            }
        }
    }

    struct KeyList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a user's access keys: id, created.")
        @OptionGroup var client: ClientOptions
        @Argument var user: String

        func run() async throws {
            try await withConnection(client) { connection in
                for key in try await connection.get(KeyCommand.path(user), as: AccessKeyList.self).keys { say("\(key.accessKeyID)\t\(key.createdAt)") }
            }
        }
    }

    struct KeyRemove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete an access key.")
        @OptionGroup var client: ClientOptions
        @Argument var user: String
        @Argument var id: String

        func run() async throws {
            try await withConnection(client) { connection in
                try await connection.delete(KeyCommand.path(user) + "/" + APIConnection.encode(query: id))
                say("deleted access key \(id)")
            }
        }
    }
}
