import Foundation
import Simulation
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
            for _ in 0..<16 { group.addTask { try await accounts.checkPassword(user: "alice", password: "correct horse", client: "test").name } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(names == Array(repeating: "alice", count: 16))
        #expect(accounts.bcryptRuns == 1)
        // Answered from the cache now.
        _ = try await accounts.checkPassword(user: "alice", password: "correct horse", client: "test")
        #expect(accounts.bcryptRuns == 1)

        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask { (try? await accounts.checkPassword(user: "alice", password: "wrong horse", client: "test")) == nil }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 4)
        // A wrong password is never remembered: the next try is checked again.
        let before = accounts.bcryptRuns
        await #expect(throws: AuthError(.unauthenticated, "wrong user name or password")) { try await accounts.checkPassword(user: "alice", password: "wrong horse", client: "test") }
        #expect(accounts.bcryptRuns == before + 1)
    }

    /// A flood of wrong passwords from one client: only its budget of failures is checked (the
    /// rest are refused before any bcrypt), concurrent guesses cannot overdraw it, unknown users
    /// cost a bcrypt round like known ones, and other clients sign in meanwhile.
    @Test func failedSignInsAreBudgetedPerClient() async throws {
        let metadata = try MetadataStore.inMemory()
        let accounts = Accounts(metadata: metadata, clock: HybridClock(node: "node1"), passwordLimits: .init(workers: 1, queue: 64, failuresPerMinute: 5))
        let user = try await accounts.makeUser(name: "alice", password: "correct horse", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [user]))

        let outcomes = await withTaskGroup(of: AuthError.Code?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        _ = try await accounts.checkPassword(user: index % 2 == 0 ? "alice" : "nobody", password: "guess \(index)", client: "10.0.0.9")
                        return nil
                    } catch let error as AuthError {
                        return error.code
                    } catch {
                        return .busy
                    }
                }
            }
            return await group.reduce(into: [AuthError.Code?]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .unauthenticated }.count == 5, "\(outcomes)")
        #expect(outcomes.filter { $0 == .rateLimited }.count == 35)
        #expect(accounts.bcryptRuns == 5, "refused guesses cost no bcrypt")
        await #expect(throws: AuthError.self) { try await accounts.checkPassword(user: "alice", password: "correct horse", client: "10.0.0.9") }
        #expect(try await accounts.checkPassword(user: "alice", password: "correct horse", client: "10.0.0.10").name == "alice")
        // Remembered good credentials cost nothing, so they pass even for the limited client.
        #expect(try await accounts.checkPassword(user: "alice", password: "correct horse", client: "10.0.0.9").name == "alice")
    }

    /// A request a page on another site could send without a preflight is a "simple" one; Basic
    /// credentials (which browsers replay like cookies) do not authorize a state change in one.
    @Test func basicCredentialsDoNotAuthorizeSimpleStateChanges() async throws {
        #expect(Accounts.isSimpleRequest(method: "POST", contentType: nil, customHeader: false))
        #expect(Accounts.isSimpleRequest(method: "POST", contentType: "multipart/form-data; boundary=x", customHeader: false))
        #expect(Accounts.isSimpleRequest(method: "POST", contentType: "Text/Plain;charset=utf-8", customHeader: false))
        #expect(!Accounts.isSimpleRequest(method: "POST", contentType: "application/json", customHeader: false))
        #expect(!Accounts.isSimpleRequest(method: "POST", contentType: "multipart/form-data; boundary=x", customHeader: true))
        #expect(!Accounts.isSimpleRequest(method: "PUT", contentType: "text/plain", customHeader: false))
        #expect(!Accounts.isSimpleRequest(method: "DELETE", contentType: nil, customHeader: false))

        let metadata = try MetadataStore.inMemory()
        let accounts = Accounts(metadata: metadata, clock: HybridClock(node: "node1"))
        _ = try await metadata.merge(GlobalRecords(users: [try await accounts.makeUser(name: "alice", password: "correct horse", role: .user)]))
        let basic = "Basic " + Data("alice:correct horse".utf8).base64EncodedString()
        await #expect(throws: AuthError.self) {
            try await accounts.authenticate(authorization: basic, cookie: nil, method: "POST", csrf: nil, client: "c", simple: true)
        }
        #expect(try await accounts.authenticate(authorization: basic, cookie: nil, method: "POST", csrf: nil, client: "c", simple: false).name == "alice")
        #expect(try await accounts.authenticate(authorization: basic, cookie: nil, method: "GET", csrf: nil, client: "c", simple: true).name == "alice")
    }

    /// Over any stretch of time a client gets at most the burst plus the refill in failures.
    @Test(arguments: 0..<20) func failureBudgetsNeverAdmitMoreThanTheRate(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var budgets = FailureBudgets(perMinute: 10)
        var admitted: [Int64] = []
        var now: Int64 = 1_000_000
        for _ in 0..<2_000 {
            now += Int64(random.next() % 3_000)
            if budgets.take("client", now: now) == nil { admitted.append(now) }
        }
        for first in admitted.indices {
            for last in first..<admitted.count where admitted[last] - admitted[first] <= 600_000 {
                let span = admitted[last] - admitted[first]
                #expect(Double(last - first + 1) <= 10 + Double(span) * 10 / 60_000 + 1e-9, "\(last - first + 1) failures in \(span) ms")
            }
        }
        #expect(admitted.count > 10, "the budget refills")
    }

    /// A token belongs to one user under one password: deleting the user, creating the name
    /// again, or changing the password (any of them, on any node) makes it worthless.
    @Test func tokensAreRevokedByDeletionRecreationAndPasswordChange() async throws {
        let metadata = try MetadataStore.inMemory()
        let clock = HybridClock(node: "node1")
        let accounts = Accounts(metadata: metadata, clock: clock)
        func bearer(_ text: String) async -> String? { try? await accounts.authenticate(authorization: "Bearer \(text)", client: "test").name }

        var alice = try await accounts.makeUser(name: "alice", password: "first-password", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [alice]))
        let (first, firstRecord) = accounts.makeToken(for: try await accounts.checkPassword(user: "alice", password: "first-password", client: "test"))
        _ = try await metadata.merge(GlobalRecords(tokens: [firstRecord]))
        #expect(await bearer(first) == "alice")

        // A password change: the old token is refused; the id stays.
        let changed = try await accounts.changingPassword(of: alice, to: "second-password")
        #expect(changed.id == alice.id && changed.credentials != alice.credentials)
        _ = try await metadata.merge(GlobalRecords(users: [changed]))
        #expect(await bearer(first) == nil)
        let (second, secondRecord) = accounts.makeToken(for: try await accounts.checkPassword(user: "alice", password: "second-password", client: "test"))
        _ = try await metadata.merge(GlobalRecords(tokens: [secondRecord]))
        #expect(await bearer(second) == "alice")
        #expect(await bearer(second) == "alice", "a token checked before (and remembered) still works")

        // Revoked: refused at once, remembered or not; a record that changes nothing leaves it refused.
        var revoked = secondRecord
        revoked.deleted = true
        revoked.version = clock.now()
        _ = try await metadata.merge(GlobalRecords(tokens: [revoked]))
        #expect(await bearer(second) == nil)
        _ = try await metadata.merge(GlobalRecords(tokens: [secondRecord]))
        #expect(await bearer(second) == nil)

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

    /// An access key opens to its secret while its user lives; the stored record never holds the
    /// secret; a sealed secret does not open under another cluster's secret, nor moved to
    /// another key or user; a key sealed under the previous secret opens during a rotation; a
    /// key stops working when its user is deleted, or deleted and created again.
    @Test func accessKeysAreSealedAndEndWithTheirUser() async throws {
        let metadata = try MetadataStore.inMemory()
        let clock = HybridClock(node: "node1")
        let accounts = Accounts(metadata: metadata, clock: clock)
        let sealer = AccessKeySealer(clusterName: "test", secret: "cluster secret one, long enough")
        let keys = AccessKeys(metadata: metadata, clock: clock, sealer: sealer)
        var alice = try await accounts.makeUser(name: "alice", password: "correct horse", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [alice]))

        let (secret, record) = try keys.make(for: alice)
        #expect(record.id.utf8.count == 20 && record.id.hasPrefix("FS"))
        #expect(secret.utf8.count == 40)
        _ = try await metadata.merge(GlobalRecords(accessKeys: [record]))
        let stored = try #require(try await metadata.accessKey(id: record.id))
        #expect(!stored.sealedSecret.contains(secret))
        #expect(!String(decoding: try JSONEncoder().encode(try await metadata.globalRecords()), as: UTF8.self).contains(secret))
        let found = try #require(try await keys.credentials(forAccessKey: record.id))
        #expect(found.secret == secret && found.user.name == "alice")
        #expect(try await keys.credentials(forAccessKey: "FSNOSUCHKEY0000000000") == nil)

        // Another cluster's secret, or the box bound to another key or user, opens nothing.
        #expect(AccessKeySealer(clusterName: "test", secret: "cluster secret two, long enough").open(stored.sealedSecret, id: record.id, userID: alice.id) == nil)
        #expect(AccessKeySealer(clusterName: "other", secret: "cluster secret one, long enough").open(stored.sealedSecret, id: record.id, userID: alice.id) == nil)
        #expect(sealer.open(stored.sealedSecret, id: "FSAAAAAAAAAAAAAAAAAA", userID: alice.id) == nil)
        #expect(sealer.open(stored.sealedSecret, id: record.id, userID: "someone else") == nil)
        // During a rotation the previous secret still opens what it sealed.
        let rotated = AccessKeySealer(clusterName: "test", secret: "cluster secret two, long enough", previousSecret: "cluster secret one, long enough")
        #expect(rotated.open(stored.sealedSecret, id: record.id, userID: alice.id) == secret)
        // And it is sealed again under the new secret, so it outlives the end of the rotation.
        #expect(try await keys.resealedUnderCurrentSecret().isEmpty, "no rotation: nothing to re-seal")
        let rotatedKeys = AccessKeys(metadata: metadata, clock: clock, sealer: rotated)
        let resealed = try await rotatedKeys.resealedUnderCurrentSecret()
        #expect(resealed.map(\.id) == [record.id] && resealed[0].version > stored.version)
        _ = try await metadata.merge(GlobalRecords(accessKeys: resealed))
        #expect(try await rotatedKeys.resealedUnderCurrentSecret().isEmpty, "a re-sealed key is not sealed again")
        let afterRotation = AccessKeys(metadata: metadata, clock: clock, sealer: AccessKeySealer(clusterName: "test", secret: "cluster secret two, long enough"))
        #expect(try await afterRotation.credentials(forAccessKey: record.id)?.secret == secret)

        // Deleted, then created again under the same name: the old key does not sign for the new user.
        alice.deleted = true
        alice.version = clock.now()
        _ = try await metadata.merge(GlobalRecords(users: [alice]))
        #expect(try await keys.credentials(forAccessKey: record.id) == nil)
        let again = try await accounts.makeUser(name: "alice", password: "correct horse", role: .user)
        _ = try await metadata.merge(GlobalRecords(users: [again]))
        #expect(try await keys.credentials(forAccessKey: record.id) == nil)
        #expect(try await keys.keys(of: again).isEmpty)
    }
}
