import Basics
import ByteStreams
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Ring

/// `/internal/v1/…`: what agents ask of each other. Every call must carry a valid `InternalAuth`
/// signature; public credentials are never accepted here.
struct InternalRoutes {
    let agent: AgentContext
    static let maxChunkBytes: Int64 = 64 << 20

    func register(on router: Router<BasicRequestContext>) {
        router.head("/internal/v1/chunks/:id") { request, context in
            try verify(request)
            guard let size = try await agent.local.chunkSize(try chunkID(context)) else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentLength: String(size)])
        }
        router.put("/internal/v1/chunks/:id") { request, context in
            try verify(request)
            let id = try chunkID(context)
            guard let length = request.headers[.contentLength].flatMap(Int64.init), (0...Self.maxChunkBytes).contains(length) else {
                throw APIError.badRequest("bad_request", "a chunk needs a Content-Length of at most \(Self.maxChunkBytes)")
            }
            let hintFor = try QueryItems(request.uri.query)["hint_for"].map { text throws -> NodeID in
                guard let node = NodeID(text) else { throw APIError.badRequest("bad_request", "hint_for is not a node id") }
                return node
            }
            do {
                let stored = try await agent.local.putChunk(id, size: length, body: .stream(AnySendableByteSequence(request.body)), hintFor: hintFor)
                return Response(status: stored ? .created : .ok)
            } catch let error as BlobStoreError where error.code == .integrity {
                throw APIError(.unprocessableContent, "checksum_mismatch", error.message)
            }
        }
        router.get("/internal/v1/chunks/:id") { request, context in
            try verify(request)
            let id = try chunkID(context)
            // Whole, in one read (the peer verifies it): a chunk is at most maxChunkBytes.
            let bytes: ByteBuffer
            do {
                bytes = try await agent.local.blobs.readWhole(id, limit: Int(Self.maxChunkBytes))
            } catch let error as BlobStoreError where error.code == .notFound {
                return Response(status: .notFound)
            }
            agent.metrics.chunkGets.increment()
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: ResponseBody(byteBuffer: bytes))
        }
        router.put("/internal/v1/manifests") { request, _ in
            try verify(request)
            let hintFor = try QueryItems(request.uri.query)["hint_for"].flatMap(NodeID.init)
            var request = request
            let manifest = try decode(Manifest.self, try await request.collectBody(upTo: 16 << 20))
            do {
                return Response.json(try await agent.local.mergeManifest(manifest, hintFor: hintFor))
            } catch let error as ClockSkewError {
                agent.logger.error("refused a manifest from the future", metadata: ["error": "\(error)"])
                throw APIError.conflict(error.description)
            }
        }
        router.get("/internal/v1/manifest") { request, _ in
            try verify(request)
            let query = try QueryItems(request.uri.query)
            guard let owner = query["owner"], let path = query["path"] else { throw APIError.badRequest("bad_request", "owner and path are required") }
            let manifest = try await agent.local.metadata.manifest(FileKey(owner: owner, path: path))
            return Response.json(manifest.map { [$0] } ?? [])
        }
        router.get("/internal/v1/manifests") { request, _ in
            try verify(request)
            let query = try QueryItems(request.uri.query)
            var after: FileKey?
            if let owner = query["after_owner"], let path = query["after_path"] { after = FileKey(owner: owner, path: path) }
            let manifests = try await agent.local.metadata.manifests(
                owner: query["owner"], prefix: query["prefix"] ?? "", after: after, limit: try query.int("limit", default: 100, in: 1...10_000)
            )
            return Response.json(manifests)
        }
        router.post("/internal/v1/sync/digests") { request, _ in
            try verify(request)
            var request = request
            let ask = try decode(DigestRequest.self, try await request.collectBody(upTo: 1 << 20))
            guard let peer = NodeID(ask.peer), ask.partitions.allSatisfy({ (0..<Partition.count).contains($0) }) else {
                throw APIError.badRequest("bad_request", "peer must be a node id and partitions 0-\(Partition.count - 1)")
            }
            let items = try await SyncItem.load(ask.kind, from: agent.local.metadata)
            let digests = agent.view.snapshot().coOwnedDigests(items, agent.selfID, peer, partitions: Set(ask.partitions))
            return Response.json(Dictionary(uniqueKeysWithValues: digests.map { (String($0.key), $0.value) }))
        }
        router.post("/internal/v1/sync/held") { request, _ in
            try verify(request)
            var request = request
            let ask = try decode(HeldRequest.self, try await request.collectBody(upTo: 16 << 20))
            let wanted = Set(ask.keys)
            let items = try await SyncItem.load(ask.kind, from: agent.local.metadata)
            if ask.all == true {
                return Response.json(Dictionary(items.map { ($0.key, ask.kind == .chunk ? String($0.size) : $0.version) }) { first, _ in first })
            }
            return Response.json(Dictionary(items.filter { wanted.contains($0.key) }.map { ($0.key, $0.version) }) { first, _ in first })
        }
        router.get("/internal/v1/gc/references") { request, _ in
            try verify(request)
            let ids = try await agent.local.metadata.referencedChunks() + agent.writer.uploads.chunksInFlight()
            var filter = ChunkBloomFilter(expected: ids.count)
            for id in ids { filter.insert(id) }
            return Response.json(filter)
        }
        router.post("/internal/v1/chunks/:id/verify") { request, context in
            try verify(request)
            return Response.json(try await agent.local.verifyOrDrop(try chunkID(context), logger: agent.logger))
        }
        router.get("/internal/v1/global") { request, _ in
            try verify(request)
            return Response.json(try await agent.local.metadata.globalRecords())
        }
        router.put("/internal/v1/global") { request, _ in
            try verify(request)
            var request = request
            let records = try decode(GlobalRecords.self, try await request.collectBody(upTo: 64 << 20))
            for version in records.versions {
                do { try agent.local.clock.observe(version) } catch { throw APIError.conflict("\(error)") }
            }
            return Response.json(try await agent.local.metadata.merge(records))
        }
    }

    /// Refuses a call without a valid cluster signature (401).
    private func verify(_ request: Request) throws {
        do {
            _ = try agent.internalAuth.verify(
                method: request.method.rawValue, target: request.uri.string,
                header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } },
                nowMilliseconds: Int64(HybridClock.systemMilliseconds())
            )
        } catch {
            throw APIError(.unauthorized, "unauthorized", "internal API: \(error == .skewed ? "clock skew over 5 minutes" : "missing or invalid cluster signature")")
        }
    }

    private func chunkID(_ context: BasicRequestContext) throws -> ChunkID {
        guard let id = ChunkID(try context.parameters.require("id")) else { throw APIError.badRequest("bad_request", "not a chunk id") }
        return id
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError.badRequest("bad_json", "not valid \(T.self) JSON: \(error)")
        }
    }
}
