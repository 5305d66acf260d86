import Foundation
import Testing
@testable import Agent

/// The OpenAPI document ships inside the agent (served at /api/v1/openapi.json) and is valid
/// JSON once converted; schemathesis checks it against a live server (`scripts/api-schema-check`).
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test func loadsAsJSONWithEveryPublicRoute() async throws {
        let assets = try await WebAssets.load()
        let document = try #require(try JSONSerialization.jsonObject(with: Data(assets.openAPI)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        for route in [
            "/api/v1/files", "/api/v1/files/{path}", "/api/v1/meta/{path}", "/api/v1/cluster", "/api/v1/cluster/nodes/{id}",
            "/api/v1/cluster/nodes/{id}/drain", "/api/v1/ring/plan", "/api/v1/auth/tokens", "/api/v1/users", "/api/v1/users/{name}",
            "/api/v1/users/{name}/keys", "/api/v1/users/{name}/keys/{id}", "/api/v1/health", "/api/v1/openapi.json", "/metrics",
        ] {
            #expect(paths[route] != nil, "\(route) is not documented")
        }
        #expect(paths.keys.allSatisfy { !$0.hasPrefix("/internal") }, "the internal API is not public")
        // Status codes are mapping keys: they must come out as JSON strings.
        let health = try #require(((paths["/api/v1/health"] as? [String: Any])?["get"] as? [String: Any])?["responses"] as? [String: Any])
        #expect(health["200"] != nil)
    }
}
