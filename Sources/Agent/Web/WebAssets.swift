import Foundation
import Mustache
import Yams

/// The dashboard's templates and static files, loaded once from the package's resources.
public struct WebAssets: Sendable {
    let templates: MustacheLibrary
    let files: [String: (contentType: String, bytes: [UInt8])]
    /// The OpenAPI document of the public API (`api/openapi.yaml`, also `docs/openapi.yaml`) as JSON.
    let openAPI: [UInt8]

    /// Loads everything under `Web/Resources` (templates/*.mustache, static/*).
    public static func load() async throws -> WebAssets {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the dashboard resources are missing beside the executable"])
        }
        let templates = try await MustacheLibrary(directory: root.appendingPathComponent("templates").path)
        var files: [String: (String, [UInt8])] = [:]
        let types = ["css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"]
        let folder = root.appendingPathComponent("static")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            files[name] = (types[(name as NSString).pathExtension] ?? "application/octet-stream", [UInt8](data))
        }
        let yaml = try String(contentsOf: root.appendingPathComponent("api/openapi.yaml"), encoding: .utf8)
        return WebAssets(templates: templates, files: files, openAPI: try openAPIJSON(fromYAML: yaml))
    }

    /// The YAML document as JSON text (mapping keys such as status codes become strings).
    static func openAPIJSON(fromYAML yaml: String) throws -> [UInt8] {
        func plain(_ value: Any?) -> Any {
            switch value {
            case let mapping as [AnyHashable: Any]: Dictionary(mapping.map { ("\($0.key.base)", plain($0.value)) }) { first, _ in first }
            case let sequence as [Any]: sequence.map(plain)
            case let date as Date: ISO8601DateFormatter().string(from: date)
            case nil, is NSNull: NSNull()
            case let other?: other
            }
        }
        return [UInt8](try JSONSerialization.data(withJSONObject: plain(try Yams.load(yaml: yaml)), options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    func render(_ template: String, _ context: [String: Any]) -> String {
        templates.render(context, withTemplate: template) ?? "template \(template) is missing"
    }
}
