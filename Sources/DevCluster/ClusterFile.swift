import Foundation

/// `cluster.json`, written by `filestore dev` for scripts and read back by `filestore dev start`
/// and `filestore dev stop`: every node's id, URL, pid and data directory, and the admin login.
public struct ClusterFile: Codable, Equatable, Sendable {
    public struct Node: Codable, Equatable, Sendable {
        public var id: String
        public var url: String
        /// The node's S3 endpoint (nil in files written before S3 existed).
        public var s3: String?
        /// 0 when the agent is not running.
        public var pid: Int32
        public var dataDirectory: String

        public init(id: String, url: String, s3: String? = nil, pid: Int32, dataDirectory: String) {
            self.id = id
            self.url = url
            self.s3 = s3
            self.pid = pid
            self.dataDirectory = dataDirectory
        }

        enum CodingKeys: String, CodingKey { case id, url, s3, pid; case dataDirectory = "data_dir" }
    }

    public struct Login: Codable, Equatable, Sendable {
        public var user: String
        public var password: String
    }

    public var nodes: [Node]
    public var admin: Login

    public init(nodes: [Node], admin: Login) {
        self.nodes = nodes
        self.admin = admin
    }

    /// The file at `path`, or nil when there is none (or it is not a cluster file).
    public static func read(_ path: String) -> ClusterFile? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(ClusterFile.self, from: $0) }
    }

    public func text() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public func write(to path: String) throws {
        try Data(text().utf8).write(to: URL(fileURLWithPath: path))
    }
}
