import Foundation

/// What the tests know of where they run: the repository they were built from, and whether a
/// missing tool is a failure (scripts/test and CI) or a visible skip (a quick local run).
public enum TestEnvironment {
    /// Whether tests must fail rather than skip when a tool is missing (`FILESTORE_REQUIRE_ALL_TESTS`).
    public static var requiresAllTools: Bool { ProcessInfo.processInfo.environment["FILESTORE_REQUIRE_ALL_TESTS"] != nil }

    /// The repository root (two levels above this file's folder).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

extension TestEnvironment {
    /// A fresh random cluster secret (32 hex digits): tests never write a usable secret into the
    /// repository, and agents refuse published ones.
    public static func randomClusterSecret() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
