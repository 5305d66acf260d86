/// Parses the `--storage` flag: `dir:PATH` or `s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET`
/// (`s3s://` for HTTPS; `?region=…` optional; bucket defaults to `filestore`).
public enum StorageSpec {
    public static func parse(_ text: String) throws(ClusterConfiguration.Error) -> ClusterConfiguration.StorageConfiguration {
        if text.hasPrefix("dir:") {
            let path = String(text.dropFirst(4))
            guard !path.isEmpty else { throw .init(field: "--storage", problem: "dir: needs a path, like dir:./data/node1/chunks") }
            return .directory(path: path)
        }
        for (prefix, scheme) in [("s3://", "http"), ("s3s://", "https")] where text.hasPrefix(prefix) {
            var rest = Substring(text.dropFirst(prefix.count))
            var region = "us-east-1"
            if let question = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: question)...].split(separator: "&") where pair.hasPrefix("region=") { region = String(pair.dropFirst(7)) }
                rest = rest[..<question]
            }
            guard let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else {
                throw .init(field: "--storage", problem: "s3 storage looks like s3://ACCESS_KEY:SECRET_KEY@host:port/bucket")
            }
            let access = String(rest[..<colon])
            let secret = String(rest[rest.index(after: colon)..<at])
            let location = rest[rest.index(after: at)...]
            let host = location.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            let bucket = location.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) ?? "filestore"
            guard !access.isEmpty, !secret.isEmpty, !host.isEmpty else {
                throw .init(field: "--storage", problem: "s3 storage needs an access key, a secret key and a host")
            }
            return .s3(endpoint: "\(scheme)://\(host)", bucket: bucket, accessKey: access, secretKey: secret, region: region)
        }
        throw .init(field: "--storage", problem: "\"\(text)\" is not dir:PATH or s3://ACCESS:SECRET@host:port/bucket")
    }
}
