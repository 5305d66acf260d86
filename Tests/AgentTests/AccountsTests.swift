import Testing
@testable import Agent

@Suite("Accounts")
struct AccountsTests {
    /// A burst of requests with the same Basic credentials (16 clients starting together) pays
    /// one bcrypt verification, not one each; wrong passwords still fail, every one of them.
    @Test func concurrentPasswordChecksShareOneBcryptRun() async throws {
        let metadata = try MetadataStore.inMemory()
        let accounts = Accounts(metadata: metadata, clock: HybridClock(node: "node1"))
        let user = try await accounts.makeUser(name: "alice", password: "correct horse", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [user]))

        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await accounts.checkPassword(user: "alice", password: "correct horse").name } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(names == Array(repeating: "alice", count: 16))
        #expect(accounts.bcryptRuns == 1)
        // Answered from the cache now.
        _ = try await accounts.checkPassword(user: "alice", password: "correct horse")
        #expect(accounts.bcryptRuns == 1)

        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask { (try? await accounts.checkPassword(user: "alice", password: "wrong horse")) == nil }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 4)
        // A wrong password is never remembered: the next try is checked again.
        let before = accounts.bcryptRuns
        await #expect(throws: AuthError(.unauthenticated, "wrong user name or password")) { try await accounts.checkPassword(user: "alice", password: "wrong horse") }
        #expect(accounts.bcryptRuns == before + 1)
    }
}
