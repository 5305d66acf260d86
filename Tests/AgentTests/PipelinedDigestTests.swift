import ByteStreams
import Crypto
import NIOCore
import Simulation
import Testing

/// `PipelinedDigest`: batches digested off the caller's task give the digest of the bytes in
/// order, however the stream is cut and however deep the pipeline.
@Suite("pipelined digests")
struct PipelinedDigestTests {
    @Test("the digest of batches equals the one-shot digest", arguments: 0..<30)
    func matchesOneShot(seed: UInt64) async {
        var random = SeededGenerator(seed: 900 + seed)
        let bytes = (0..<Int.random(in: 0...300_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        var digest = PipelinedDigest((SHA256(), Insecure.MD5()), depth: Int.random(in: 1...5, using: &random)) { state, chunk in
            state.0.update(bufferPointer: chunk)
            state.1.update(bufferPointer: chunk)
        }
        var offset = 0
        while offset < bytes.count {
            var batch: [ByteBuffer] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) where offset < bytes.count {
                let length = min(bytes.count - offset, Int.random(in: 1...40_000, using: &random))
                batch.append(ByteBuffer(bytes: bytes[offset..<offset + length]))
                offset += length
            }
            await digest.feed(batch)
        }
        let result = await digest.result()
        #expect(Array(result.0.finalize()) == Array(SHA256.hash(data: bytes)))
        #expect(Array(result.1.finalize()) == Array(Insecure.MD5.hash(data: bytes)))
    }
}
