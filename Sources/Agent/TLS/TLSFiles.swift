import NIOSSL

/// The TLS material of one agent, loaded from the PEM files `tls:` names: its certificate chain
/// and key (both listeners), and the cluster CA that peers' certificates must chain to (for the
/// agent's own calls to peers, and for mutual TLS on the internal listener).
public struct TLSFiles: Sendable {
    public let chain: [NIOSSLCertificate]
    public let key: NIOSSLPrivateKey
    public let authority: [NIOSSLCertificate]?

    /// Loads the files for `node`; the error names the field and file that failed.
    public static func load(_ tls: ClusterConfiguration.TLS, node: String) throws(ClusterConfiguration.Error) -> TLSFiles {
        func read<T>(_ field: String, _ path: String, _ load: (String) throws -> T) throws(ClusterConfiguration.Error) -> T {
            do {
                return try load(path)
            } catch {
                throw ClusterConfiguration.Error(field: "tls.\(field)", problem: "cannot load \(path): \(error)")
            }
        }
        let paths = tls.paths(for: node)
        let chain = try read("certificate", paths.certificate) { try NIOSSLCertificate.fromPEMFile($0) }
        guard !chain.isEmpty else { throw ClusterConfiguration.Error(field: "tls.certificate", problem: "\(paths.certificate) holds no certificate") }
        let key = try read("key", paths.key) { try NIOSSLPrivateKey(file: $0, format: .pem) }
        let authority = try paths.authority.map { path throws(ClusterConfiguration.Error) in try read("ca", path) { try NIOSSLCertificate.fromPEMFile($0) } }
        return TLSFiles(chain: chain, key: key, authority: authority)
    }

    /// A listener's configuration; with `requireClientCertificate`, a client must present a
    /// certificate signed by the cluster CA or the handshake fails.
    public func server(requireClientCertificate: Bool) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if requireClientCertificate, let authority {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(authority)
        }
        return configuration
    }

    /// The configuration for calls to peers: their certificates are checked against the cluster
    /// CA (or the system's roots without one), host names included, and this agent's own
    /// certificate is offered for mutual TLS.
    public func client() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let authority { configuration.trustRoots = .certificates(authority) }
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        return configuration
    }
}
