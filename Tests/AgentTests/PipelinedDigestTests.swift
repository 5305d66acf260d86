import ByteStreams
import Crypto
import Foundation
import NIOCore
import Simulation
import Synchronization
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

    @Test("what waits to be digested stays under the byte bound, whatever the batch sizes", arguments: 0..<10)
    func boundsWhatItHolds(seed: UInt64) async {
        var random = SeededGenerator(seed: 1_900 + seed)
        let maxPending = Int.random(in: 1_000...200_000, using: &random)
        let digested = Atomic<Int>(0)
        var digest = PipelinedDigest(0, depth: Int.random(in: 1...6, using: &random), maxPendingBytes: maxPending) { count, chunk in
            // Slow enough that the pipeline backs up behind it.
            usleep(200)
            count += chunk.count
            digested.add(chunk.count, ordering: .relaxed)
        }
        var fed = 0
        for _ in 0..<200 {
            let batch = (0..<Int.random(in: 1...3, using: &random)).map { _ in ByteBuffer(repeating: 7, count: Int.random(in: 1...50_000, using: &random)) }
            let size = batch.reduce(0) { $0 + $1.readableBytes }
            await digest.feed(batch)
            fed += size
            let held = fed - digested.load(ordering: .relaxed)
            #expect(held <= max(maxPending, size), "\(held) bytes wait, the bound is \(maxPending) (this batch \(size))")
        }
        #expect(await digest.result() == fed)
    }
}
