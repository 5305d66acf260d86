/// Which cluster secrets an agent refuses (DESIGN.md §17): the secret keys the internal API and
/// gossip, so anyone who knows it can act as a node. Missing, short and published values are
/// refused unless the agent runs with `--insecure-dev`.
public enum SecretPolicy {
    /// At least this many bytes.
    public static let minimumBytes = 16

    /// Values that stand in examples, tutorials and this repository's files — what an attacker
    /// tries first. Compared without case.
    static let published: Set<String> = [
        "change-me-please", "changeme", "change-me", "replace-with-a-long-random-secret", "secret", "password",
        "filestore", "filestore-secret", "cluster-secret", "minioadmin", "s3cret", "long-enough-secret",
        "in-process-test-secret", "secret-secret", "0123456789abcdef", "abcdefghijklmnop",
    ]

    /// Why `secret` is refused, or nil when it is acceptable.
    public static func problem(with secret: String?) -> String? {
        guard let secret, !secret.isEmpty else { return "set it in cluster.yml or FILESTORE_CLUSTER_SECRET (at least \(minimumBytes) random bytes, e.g. `openssl rand -hex 32`)" }
        guard secret.utf8.count >= minimumBytes else { return "is \(secret.utf8.count) bytes; use at least \(minimumBytes) random bytes (e.g. `openssl rand -hex 32`)" }
        let folded = secret.lowercased()
        if published.contains(folded) || folded.hasPrefix("change-me") || folded.hasPrefix("changeme") || folded.hasPrefix("replace-with") {
            return "is a published example value; generate one (e.g. `openssl rand -hex 32`)"
        }
        if Set(secret.utf8).count < 4 { return "has fewer than 4 distinct characters; generate one (e.g. `openssl rand -hex 32`)" }
        return nil
    }
}
