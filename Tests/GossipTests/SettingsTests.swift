import Testing
@testable import Gossip

@Suite("Gossip settings (memberlist LAN profile)")
struct SettingsTests {
    @Test func suspicionTimeoutScalesWithLog10OfClusterSize() {
        let settings = Gossip.Settings()
        // 4 × max(1, log10 N) seconds: a floor of 4 s up to 10 members, 8 s at 100.
        #expect(settings.minSuspicionTimeout(members: 1) == .seconds(4))
        #expect(settings.minSuspicionTimeout(members: 3) == .seconds(4))
        #expect(settings.minSuspicionTimeout(members: 10) == .seconds(4))
        #expect(settings.minSuspicionTimeout(members: 100) == .seconds(8))
        #expect(settings.maxSuspicionTimeout(members: 100) == .seconds(48))
    }

    @Test func retransmitLimitScalesWithLog10OfClusterSize() {
        let settings = Gossip.Settings()
        #expect(settings.retransmitLimit(members: 0) == 0)
        #expect(settings.retransmitLimit(members: 3) == 4)
        #expect(settings.retransmitLimit(members: 9) == 4)
        #expect(settings.retransmitLimit(members: 10) == 8)
        #expect(settings.retransmitLimit(members: 100) == 12)
    }

    @Test func pushPullIntervalScalesWithLog2AboveThirtyTwoMembers() {
        let settings = Gossip.Settings()
        #expect(settings.pushPullInterval(members: 1) == .seconds(30))
        #expect(settings.pushPullInterval(members: 32) == .seconds(30))
        #expect(settings.pushPullInterval(members: 33) == .seconds(60))
        #expect(settings.pushPullInterval(members: 100) == .seconds(90))
        #expect(settings.pushPullInterval(members: 1_000) == .seconds(180))
    }
}
