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

    /// A token belongs to one user under one password: deleting the user, creating the name
    /// again, or changing the password (any of them, on any node) makes it worthless.
    @Test func tokensAreRevokedByDeletionRecreationAndPasswordChange() async throws {
        let metadata = try MetadataStore.inMemory()
        let clock = HybridClock(node: "node1")
        let accounts = Accounts(metadata: metadata, clock: clock)
        func bearer(_ text: String) async -> String? { try? await accounts.authenticate(authorization: "Bearer \(text)").name }

        var alice = try await accounts.makeUser(name: "alice", password: "first-password", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [alice]))
        let (first, firstRecord) = accounts.makeToken(for: try await accounts.checkPassword(user: "alice", password: "first-password"))
        _ = try await metadata.merge(GlobalRecords(tokens: [firstRecord]))
        #expect(await bearer(first) == "alice")

        // A password change: the old token is refused; the id stays.
        let changed = try await accounts.changingPassword(of: alice, to: "second-password")
        #expect(changed.id == alice.id && changed.credentials != alice.credentials)
        _ = try await metadata.merge(GlobalRecords(users: [changed]))
        #expect(await bearer(first) == nil)
        let (second, secondRecord) = accounts.makeToken(for: try await accounts.checkPassword(user: "alice", password: "second-password"))
        _ = try await metadata.merge(GlobalRecords(tokens: [secondRecord]))
        #expect(await bearer(second) == "alice")

        // Deleted, then created again under the same name: another user; no old token works.
        alice = changed
        alice.deleted = true
        alice.version = clock.now()
        _ = try await metadata.merge(GlobalRecords(users: [alice]))
        #expect(await bearer(second) == nil)
        let again = try await accounts.makeUser(name: "alice", password: "second-password", role: .user)
        #expect(again.id != alice.id)
        _ = try await metadata.merge(GlobalRecords(users: [again]))
        #expect(await bearer(second) == nil)
        #expect(await bearer(first) == nil)
    }
}
