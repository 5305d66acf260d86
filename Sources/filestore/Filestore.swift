import ArgumentParser

/// The single `filestore` executable: agent, local dev cluster, drills and client (DESIGN.md §11).
@main
struct Filestore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filestore",
        abstract: "A distributed file store: chunked, replicated, self-healing, no coordinator.",
        subcommands: [
            AgentCommand.self, Dev.self, DrillCommand.self, CertCommand.self,
            PutCommand.self, GetCommand.self, ListCommand.self, RemoveCommand.self, StatCommand.self,
            StatusCommand.self, RingCommand.self, LoginCommand.self, UserCommand.self, TokenCommand.self, KeyCommand.self,
        ]
    )
}
