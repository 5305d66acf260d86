import Foundation
import Mustache

/// The dashboard's templates and static files, loaded once from the package's resources.
public struct WebAssets: Sendable {
    let templates: MustacheLibrary
    let files: [String: (contentType: String, bytes: [UInt8])]

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
        return WebAssets(templates: templates, files: files)
    }

    func render(_ template: String, _ context: [String: Any]) -> String {
        templates.render(context, withTemplate: template) ?? "template \(template) is missing"
    }
}
