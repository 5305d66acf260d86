import ArgumentParser
import AsyncHTTPClient
import Basics
import Crypto
import Foundation
import NIOCore

extension Double {
    func mibPerSecond(_ bytes: Int64) -> Double { Double(bytes) / 1_048_576 / self }
}

/// Timed HTTP transfers for the benchmarks.
enum Transfer {
    static func upload(_ http: HTTPClient, _ url: String, authorization: String?, size: Int64, seed: UInt64) async throws -> Double {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .stream(GeneratedBytes(total: size, seed: seed), length: .known(size))
        var status: UInt = 0
        let seconds = try await timed {
            let response = try await http.execute(request, timeout: .seconds(3600))
            status = response.status.code
            _ = try await response.body.collect(upTo: 1 << 20)
        }
        guard (200..<300).contains(status) else { throw ValidationError("PUT \(url) answered \(status)") }
        return seconds
    }

    static func download(_ http: HTTPClient, _ url: String, authorization: String?) async throws -> (seconds: Double, bytes: Int64, sha256: String) {
        var request = HTTPClientRequest(url: url)
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        var hasher = SHA256()
        var count: Int64 = 0
        let seconds = try await timed {
            let response = try await http.execute(request, timeout: .seconds(3600))
            guard response.status.code == 200 else { throw ValidationError("GET \(url) answered \(response.status)") }
            for try await buffer in response.body {
                count += Int64(buffer.readableBytes)
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
        }
        return (seconds, count, Hex.encode(hasher.finalize()))
    }
}
