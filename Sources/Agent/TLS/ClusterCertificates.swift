import Crypto
import Foundation
import SwiftASN1
import X509

/// A cluster's own certificate authority and the certificates it signs for its agents
/// (`filestore cert`): P-256 keys, a CA that can sign only end-entity certificates, and node
/// certificates good for both ends of a TLS connection (server and client), naming every host
/// the node is reached by. Files are PEM; keys are written readable by their owner only.
public enum ClusterCertificates {
    /// A certificate and its private key, PEM.
    public struct Pair: Sendable {
        public var certificate: String
        public var key: String
    }

    /// A new certificate authority for the cluster `name`.
    public static func makeAuthority(clusterName name: String, now: Date = Date(), validFor days: Int = 3650) throws -> Pair {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("filestore")
            CommonName("filestore cluster \(name) CA")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        return Pair(certificate: try certificate.serializeAsPEM().pemString, key: key.pemRepresentation)
    }

    /// A certificate for node `id`, reached as `hosts` (names or IP literals), signed by `authority`.
    public static func issue(node id: String, hosts: [String], authority: Pair, now: Date = Date(), validFor days: Int = 825) throws -> Pair {
        let issuerKey = try P256.Signing.PrivateKey(pemRepresentation: authority.key)
        let issuer = try Certificate(pemEncoded: authority.certificate)
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("filestore")
            CommonName(id)
        }
        let names = hosts.map { host -> GeneralName in
            if let bytes = ipBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
            return .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: issuer.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(issuerKey)
        )
        return Pair(certificate: try certificate.serializeAsPEM().pemString, key: key.pemRepresentation)
    }

    /// The file names in a certificate directory.
    public static let authorityCertificateFile = "ca.crt"
    public static let authorityKeyFile = "ca.key"
    public static func certificateFile(_ node: String) -> String { "\(node).crt" }
    public static func keyFile(_ node: String) -> String { "\(node).key" }

    /// Writes, into `directory`, the cluster's CA (kept when it is there already: every node
    /// certificate must come from the same one) and a certificate for each node. Returns the
    /// paths written.
    @discardableResult
    public static func write(into directory: String, clusterName: String, nodes: [(id: String, hosts: [String])]) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let caCertificate = "\(directory)/\(authorityCertificateFile)"
        let caKey = "\(directory)/\(authorityKeyFile)"
        var written: [String] = []
        let authority: Pair
        if FileManager.default.fileExists(atPath: caCertificate), FileManager.default.fileExists(atPath: caKey) {
            authority = Pair(certificate: try String(contentsOfFile: caCertificate, encoding: .utf8), key: try String(contentsOfFile: caKey, encoding: .utf8))
        } else {
            authority = try makeAuthority(clusterName: clusterName)
            try save(authority, certificate: caCertificate, key: caKey)
            written += [caCertificate, caKey]
        }
        for node in nodes {
            let paths = ("\(directory)/\(certificateFile(node.id))", "\(directory)/\(keyFile(node.id))")
            try save(try issue(node: node.id, hosts: node.hosts, authority: authority), certificate: paths.0, key: paths.1)
            written += [paths.0, paths.1]
        }
        return written
    }

    private static func save(_ pair: Pair, certificate: String, key: String) throws {
        try Data(pair.certificate.utf8).write(to: URL(fileURLWithPath: certificate))
        _ = FileManager.default.createFile(atPath: key, contents: Data(pair.key.utf8), attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
    }

    /// The bytes of an IPv4 or IPv6 literal, or nil for a host name.
    static func ipBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
