import Basics
import NIOCore

/// The manifest calls: merge a copy, read one, page through a shard.
public enum ManifestCalls {
    /// Merges a manifest copy into the peer's shard (`PUT`, body = the manifest JSON); answers
    /// the version it now holds. A version stamped too far in the future is refused (409).
    public struct Put: JSONCall {
        public typealias Response = Manifest
        public static let method = InternalMethod.put
        public static let route = "/internal/v1/manifests"
        public var manifest: Manifest
        public var hintFor: NodeID?

        public init(_ manifest: Manifest, hintFor: NodeID?) {
            self.manifest = manifest
            self.hintFor = hintFor
        }

        public init(wire: InternalRequest) async throws {
            hintFor = try wire.node("hint_for")
            manifest = try await wire.json(Manifest.self, upTo: Manifest.maxWireBytes)
        }

        public var target: String { InternalJSON.target(Self.route, [("hint_for", hintFor?.rawValue)]) }
        public var body: ByteBuffer? { InternalJSON.body(manifest) }

        public func serve(by peer: some PeerHandler) async throws -> Manifest { try await peer.mergeManifest(manifest, hintFor: hintFor) }
    }

    /// The peer's copy of one manifest (possibly a tombstone), or null.
    public struct Get: JSONCall {
        public typealias Response = Manifest?
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/manifest"
        public var key: FileKey

        public init(_ key: FileKey) { self.key = key }

        public init(wire: InternalRequest) async throws {
            guard let owner = wire.query["owner"], let path = wire.query["path"] else { throw InternalProtocolError("owner and path are required") }
            key = FileKey(owner: owner, path: path)
        }

        public var target: String { InternalJSON.target(Self.route, [("owner", key.owner), ("path", key.path)]) }
        public var maxResponseBytes: Int { Manifest.maxWireBytes }

        public func serve(by peer: some PeerHandler) async throws -> Manifest? { try await peer.manifest(key) }
    }

    /// A page of the peer's manifest summaries (tombstones included) in key order, after `after`,
    /// bounded by count and by bytes.
    public struct List: JSONCall {
        public typealias Response = ShardPage
        public static let method = InternalMethod.get
        public static let route = "/internal/v1/manifests"
        public static let maxLimit = 10_000
        public var owner: String?
        public var prefix: String
        public var after: FileKey?
        public var limit: Int

        public init(owner: String?, prefix: String, after: FileKey?, limit: Int) {
            self.owner = owner
            self.prefix = prefix
            self.after = after
            self.limit = limit
        }

        public init(wire: InternalRequest) async throws {
            owner = wire.query["owner"]
            prefix = wire.query["prefix"] ?? ""
            if let owner = wire.query["after_owner"], let path = wire.query["after_path"] { after = FileKey(owner: owner, path: path) }
            guard let limit = Int(wire.query["limit"] ?? "100"), (1...Self.maxLimit).contains(limit) else {
                throw InternalProtocolError("limit must be 1-\(Self.maxLimit)")
            }
            self.limit = limit
        }

        public var target: String {
            InternalJSON.target(Self.route, [
                ("owner", owner), ("prefix", prefix), ("after_owner", after?.owner), ("after_path", after?.path), ("limit", String(limit)),
            ])
        }

        public func serve(by peer: some PeerHandler) async throws -> ShardPage {
            try await peer.shardPage(owner: owner, prefix: prefix, after: after, limit: limit)
        }
    }
}
