import Foundation
import Testing
import LocalProcesses
import TestSupport

/// The web dashboard in a real browser: headless Chromium driven by Selenium (Tests/browser).
@Suite("web dashboard in a browser", .serialized)
struct BrowserTests {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
            && (try? Executables.run("python3", ["-c", "import selenium"])) != nil
    }

    @Test func dashboardFilesAndAdminWorkInChromium() async throws {
        guard Self.available else {
            #expect(Bool(!TestEnvironment.requiresAllTools), "chromium, chromium-driver and selenium are required for the browser tests")
            print("SKIPPED: chromium/chromedriver/selenium missing; browser tests did not run")
            return
        }
        try await LiveCluster.run { cluster, api in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/browser/dashboard_test.py").path
            let artifacts = TestEnvironment.repositoryRoot.appendingPathComponent("test-artifacts/browser").path
            let node1 = try #require(cluster.node("node1")).url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
            let victim = try #require(cluster.pid("node3"))
            let result = try await Executables.runCapturingAll("python3", [script, node1, LiveCluster.adminPassword, String(victim), artifacts])
            print(result.1)
            #expect(result.0 == 0, "the browser test failed:\n\(result.1.suffix(4000))")
        }
    }
}
