import Basics
import Testing
@testable import Agent

@Suite("Configuration values")
struct ConfigValueTests {
    @Test(arguments: [("5MiB", 5 << 20), ("5 MiB", 5 << 20), ("64mib", 64 << 20), ("4096", 4096), ("1GB", 1_000_000_000), ("2KiB", 2048), ("7B", 7), ("1_024", 1024)])
    func parsesByteSizes(_ text: String, _ bytes: Int) {
        #expect(ByteSize(text)?.bytes == Int64(bytes))
    }

    @Test(arguments: ["", "MiB", "-5MiB", "5XB", "1.5MiB", "5 MiB extra", "99999999999999999999"])
    func rejectsBadByteSizes(_ text: String) {
        #expect(ByteSize(text) == nil)
    }

    @Test func byteSizesRoundTrip() {
        for bytes: Int64 in [0, 1, 1023, 1024, 5 << 20, 1536 << 10, 3 << 30, 1 << 40] {
            #expect(ByteSize(ByteSize(bytes: bytes).description)?.bytes == bytes)
        }
    }

    @Test(arguments: [("500ms", Duration.milliseconds(500)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("1h30m", .seconds(5400)), ("7d", .seconds(604_800))])
    func parsesDurations(_ text: String, _ duration: Duration) {
        #expect(DurationText.parse(text) == duration)
        #expect(DurationText.parse(DurationText.format(duration)) == duration)
    }

    @Test(arguments: ["", "5", "m", "5x", "-5m", "1.5h", "99999999999999999999d"])
    func rejectsBadDurations(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}
