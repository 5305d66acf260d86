import Foundation
import Testing
import TestSupport
@testable import Agent

@Suite("cluster.yml")
struct ClusterConfigurationTests {
    static let secret = TestEnvironment.randomClusterSecret()
    static let valid = """
        cluster:
          name: demo
          secret: \(secret)
          replication: 2
          write_quorum: 2
          chunk_size: 5MiB
          vnodes: 128
          dead_grace: 5m
        nodes:
          - id: node1
            http: agent1:8080
            gossip: agent1:7946
            zone: a
            storage: {type: s3, endpoint: http://minio1:9000, bucket: filestore, access_key: minioadmin, secret_key: minioadmin, region: us-east-1}
          - id: node2
            http: agent2:8080
            gossip: agent2:7946
            weight: 2
            storage: {type: dir, path: ./data/node2}
        """

    @Test func parsesTheDesignExample() throws {
        let configuration = try ClusterConfiguration.parse(yaml: Self.valid)
        #expect(configuration.name == "demo" && configuration.replication == 2 && configuration.writeQuorum == 2)
        #expect(configuration.chunkSize.bytes == 5 << 20 && configuration.vnodes == 128 && configuration.deadGrace == .seconds(300))
        #expect(configuration.nodes.map(\.id) == ["node1", "node2"])
        #expect(configuration.maxClockSkew == .seconds(60))
        #expect(configuration.inlineMax == ClusterConfiguration.defaultInlineMax)
        for (text, bytes) in [("0", Int64(0)), ("4KiB", 4096), ("1MiB", 1 << 20)] {
            #expect(try ClusterConfiguration.parse(yaml: Self.valid.replacingOccurrences(of: "chunk_size: 5MiB", with: "chunk_size: 5MiB\n  inline_max: \(text)")).inlineMax.bytes == bytes)
        }
        #expect(try ClusterConfiguration.parse(yaml: Self.valid.replacingOccurrences(of: "dead_grace: 5m", with: "dead_grace: 5m\n  max_clock_skew: 5s")).maxClockSkew == .seconds(5))
        #expect(configuration.nodes[0].storage == .s3(endpoint: "http://minio1:9000", bucket: "filestore", accessKey: "minioadmin", secretKey: "minioadmin", region: "us-east-1"))
        #expect(configuration.nodes[1].storage == .directory(path: "./data/node2") && configuration.nodes[1].weight == 2)
        #expect(configuration.nodes[0].gossip.port == 7946 && configuration.nodes[0].zone == "a")
        // The S3 listener: the http host on port 3900 unless named; path-style only unless a domain is set.
        #expect(configuration.nodes.map(\.s3) == ["agent1:3900", "agent2:3900"] && configuration.s3Domain == nil)
        let named = try ClusterConfiguration.parse(yaml: Self.valid.replacingOccurrences(of: "http: agent2:8080", with: "http: agent2:8080\n    s3: 10.0.0.2:9000")
            .replacingOccurrences(of: "dead_grace: 5m", with: "dead_grace: 5m\n  s3_domain: s3.example.com"))
        #expect(named.nodes[1].s3 == "10.0.0.2:9000" && named.s3Domain == "s3.example.com")
        // Direct I/O is on unless a directory store turns it off.
        #expect(configuration.nodes[1].storage == .directory(path: "./data/node2", directIO: true))
        let buffered = try ClusterConfiguration.parse(yaml: Self.valid.replacingOccurrences(of: "{type: dir, path: ./data/node2}", with: "{type: dir, path: ./data/node2, direct_io: false}"))
        #expect(buffered.nodes[1].storage == .directory(path: "./data/node2", directIO: false))
    }

    @Test func limitsTLSAndTheInternalListenerAreRead() throws {
        let yaml = Self.valid
            .replacingOccurrences(of: "http: agent1:8080", with: "http: agent1:8080\n    internal: 10.1.0.1:9080")
            .replacingOccurrences(of: "\nnodes:", with: """

                limits: {idle_timeout: 30s, max_connections_per_client: 64, sign_in_failures_per_minute: 3, max_downloads_in_flight: 9, max_downloads_per_client: 2, read_ahead_chunks: 0}
                tls: {certificate: "/tls/{node}.crt", key: "/tls/{node}.key", ca: /tls/ca.crt, mutual: true}
                nodes:
                """)
        let configuration = try ClusterConfiguration.parse(yaml: yaml)
        #expect(configuration.nodes[0].peer == "10.1.0.1:9080" && configuration.nodes[1].peer == nil)
        #expect(configuration.limits.idleTimeout == .seconds(30) && configuration.limits.maxConnectionsPerClient == 64)
        #expect(configuration.limits.signInFailuresPerMinute == 3 && configuration.limits.maxConnections == ClusterConfiguration.Limits().maxConnections)
        #expect(configuration.limits.maxDownloadsInFlight == 9 && configuration.limits.maxDownloadsPerClient == 2 && configuration.limits.readAheadChunks == 0)
        let paths = try #require(configuration.tls).paths(for: "node2")
        #expect(paths.certificate == "/tls/node2.crt" && paths.key == "/tls/node2.key" && paths.authority == "/tls/ca.crt")
        #expect(configuration.tls?.mutual == true)
    }

    @Test func theEnvironmentOverridesTheSecret() throws {
        let configuration = try ClusterConfiguration.parse(yaml: Self.valid, environment: ["FILESTORE_CLUSTER_SECRET": "from-the-environment"])
        #expect(configuration.secret == "from-the-environment")
    }

    /// A secret being rotated out is accepted from peers while every node moves to the new one.
    @Test func aPreviousSecretIsKeptForRotation() throws {
        #expect(try ClusterConfiguration.parse(yaml: Self.valid).previousSecret == nil)
        let old = TestEnvironment.randomClusterSecret()
        let yaml = Self.valid.replacingOccurrences(of: "  secret: \(Self.secret)\n", with: "  secret: \(Self.secret)\n  previous_secret: \(old)\n")
        #expect(try ClusterConfiguration.parse(yaml: yaml).previousSecret == old)
        let fromEnvironment = try ClusterConfiguration.parse(yaml: Self.valid, environment: ["FILESTORE_PREVIOUS_CLUSTER_SECRET": old])
        #expect(fromEnvironment.previousSecret == old)
    }

    /// Each bad edit is refused with a message naming the field.
    @Test(arguments: [
        ("name: demo", "name: ''", "cluster.name"),
        ("secret: \(secret)", "secret: short", "cluster.secret"),
        ("secret: \(secret)", "secret: change-me-please", "cluster.secret"),
        ("secret: \(secret)", "secret: ''", "cluster.secret"),
        ("  secret: \(secret)\n", "  secret: \(secret)\n  previous_secret: change-me-please\n", "cluster.previous_secret"),
        ("  secret: \(secret)\n", "  secret: \(secret)\n  previous_secret: \(secret)\n", "cluster.previous_secret"),
        ("  secret: \(secret)\n", "", "cluster.secret"),
        ("replication: 2", "replication: 0", "cluster.replication"),
        ("write_quorum: 2", "write_quorum: 3", "cluster.write_quorum"),
        ("chunk_size: 5MiB", "chunk_size: 5 lots", "cluster.chunk_size"),
        ("chunk_size: 5MiB", "chunk_size: 1GiB", "cluster.chunk_size"),
        ("chunk_size: 5MiB", "chunk_size: 5MiB\n  inline_max: 2MiB", "cluster.inline_max"),
        ("chunk_size: 5MiB", "chunk_size: 5MiB\n  inline_max: -1", "cluster.inline_max"),
        ("chunk_size: 5MiB", "chunk_size: 5MiB\n  inline_max: small", "cluster.inline_max"),
        ("vnodes: 128", "vnodes: many", "cluster.vnodes"),
        ("dead_grace: 5m", "dead_grace: soon", "cluster.dead_grace"),
        ("dead_grace: 5m", "dead_gracee: 5m", "cluster.dead_gracee"),
        ("dead_grace: 5m", "dead_grace: 5m\n  max_clock_skew: 2h", "cluster.max_clock_skew"),
        ("dead_grace: 5m", "dead_grace: 5m\n  max_clock_skew: 0s", "cluster.max_clock_skew"),
        ("dead_grace: 5m", "dead_grace: 5m\n  max_clock_skew: -5s", "cluster.max_clock_skew"),
        ("- id: node1", "- id: Node_1", "nodes[0].id"),
        ("- id: node2", "- id: node1", "nodes[1].id"),
        ("http: agent1:8080", "http: agent1", "nodes[0].http"),
        ("gossip: agent2:7946", "gossip: agent2:99999", "nodes[1].gossip"),
        ("weight: 2", "weight: -2", "nodes[1].weight"),
        ("weight: 2", "weight: 1001", "nodes[1].weight"),
        ("endpoint: http://minio1:9000", "endpoint: minio1:9000", "nodes[0].storage.endpoint"),
        ("{type: dir, path: ./data/node2}", "{type: floppy, path: ./data/node2}", "nodes[1].storage.type"),
        ("{type: dir, path: ./data/node2}", "{type: dir}", "nodes[1].storage.path"),
        ("{type: dir, path: ./data/node2}", "{type: dir, path: ./data/node2, direct_io: maybe}", "nodes[1].storage.direct_io"),
        ("http: agent1:8080", "http: agent1:8080\n    internal: agent1", "nodes[0].internal"),
        ("http: agent1:8080", "http: agent1:8080\n    internal: agent1:8080", "nodes[0].internal"),
        ("http: agent1:8080", "http: agent1:8080\n    s3: agent1", "nodes[0].s3"),
        ("http: agent1:8080", "http: agent1:8080\n    s3: agent1:8080", "nodes[0].s3"),
        ("dead_grace: 5m", "dead_grace: 5m\n  s3_domain: S3.Example.COM", "cluster.s3_domain"),
        ("\nnodes:", "\nlimits: {idle_timeout: never}\nnodes:", "limits.idle_timeout"),
        ("\nnodes:", "\nlimits: {max_connections: 0}\nnodes:", "limits.max_connections"),
        ("\nnodes:", "\nlimits: {max_uploads: 5}\nnodes:", "limits.max_uploads"),
        ("\nnodes:", "\nlimits: {max_downloads_in_flight: 0}\nnodes:", "limits.max_downloads_in_flight"),
        ("\nnodes:", "\nlimits: {read_ahead_chunks: -1}\nnodes:", "limits.read_ahead_chunks"),
        ("\nnodes:", "\nlimits: {max_downloads_per_client: 0}\nnodes:", "limits.max_downloads_per_client"),
        ("\nnodes:", "\ntls: {certificate: a.crt}\nnodes:", "tls.key"),
        ("\nnodes:", "\ntls: {certificate: a.crt, key: a.key, mutual: true}\nnodes:", "tls.mutual"),
    ])
    func refusesBadFields(original: String, replacement: String, field: String) {
        let yaml = Self.valid.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != Self.valid)
        #expect { try ClusterConfiguration.parse(yaml: yaml) } throws: { ($0 as? ClusterConfiguration.Error)?.field == field }
    }

    /// Short, published and degenerate secrets are refused; --insecure-dev accepts all but an empty one.
    @Test(arguments: [
        "short", "0123456789abcde", "change-me-please", "CHANGE-ME-PLEASE", "change-me-in-production", "changeme-changeme",
        "replace-with-a-long-random-secret", "minioadmin", "aaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababab",
    ])
    func refusesWeakSecrets(_ weak: String) throws {
        #expect(SecretPolicy.problem(with: weak) != nil, "\(weak) is refused")
        let yaml = Self.valid.replacingOccurrences(of: "secret: \(Self.secret)", with: "secret: \"\(weak)\"")
        #expect { try ClusterConfiguration.parse(yaml: yaml) } throws: { ($0 as? ClusterConfiguration.Error)?.field == "cluster.secret" }
        #expect(try ClusterConfiguration.parse(yaml: yaml, allowInsecureSecret: true).secret == weak)
    }

    @Test func anEmptySecretIsRefusedEvenForDevelopment() {
        #expect(throws: ClusterConfiguration.Error.self) {
            try ClusterConfiguration.parse(yaml: Self.valid, environment: ["FILESTORE_CLUSTER_SECRET": ""], allowInsecureSecret: true)
        }
        #expect(SecretPolicy.problem(with: Self.secret) == nil && SecretPolicy.problem(with: "correct-horse-battery-staple") == nil)
    }

    @Test(arguments: ["", "cluster: [1, 2]", "nodes: []", ": : :", "cluster:\n  name: x\n  secret: 12345678\nnodes: {a: 1}"])
    func refusesMalformedFiles(_ yaml: String) {
        #expect(throws: ClusterConfiguration.Error.self) { try ClusterConfiguration.parse(yaml: yaml) }
    }
}
