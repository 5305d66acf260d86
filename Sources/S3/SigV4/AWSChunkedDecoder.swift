import Basics
import Crypto
import NIOCore

extension S3 {
    /// Decodes an `aws-chunked` body as it streams in: `hex-size[;chunk-signature=sig]\r\n`,
    /// the data, `\r\n`, …, a zero-size chunk, then trailers (`name:value\r\n`) and an empty
    /// line. With signing, every chunk's signature is checked against the chain seeded by the
    /// request's own signature, and a signed trailer's `x-amz-trailer-signature` too; a signed
    /// chunk is held (at most `maxSignedChunkBytes`) until its signature checks out, so no
    /// unchecked byte is handed on. Unsigned chunks pass through as slices of the input. Only the
    /// declared trailer (`x-amz-trailer`) is accepted, exactly once. The body must hold exactly
    /// the `x-amz-decoded-content-length` it announced. A caller still makes nothing it stores
    /// visible before `finish()` returns (the trailer checksum comes last).
    public struct AWSChunkedDecoder: Sendable {
        public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
            public enum Code: Sendable, Equatable {
                /// Not valid `aws-chunked` framing (S3 answers `IncompleteBody` or `InvalidRequest`).
                case malformed
                /// A chunk or trailer signature does not match (S3: `SignatureDoesNotMatch`).
                case signatureMismatch
                /// The body ended before the final chunk (S3: `IncompleteBody`).
                case incomplete
                /// More data than `x-amz-decoded-content-length` announced.
                case lengthMismatch
            }

            public var code: Code
            public var message: String

            init(_ code: Code, _ message: String) {
                self.code = code
                self.message = message
            }

            public var description: String { message }
        }

        /// The longest chunk header or trailer line: a signed chunk's header is about 100 bytes,
        /// a checksum trailer under 80. Short lines bound what framing costs per byte of data.
        public static let maxLineBytes = 256
        /// The largest signed chunk (SDKs send 8 KiB to 1 MiB): what one upload may hold in memory.
        public static let maxSignedChunkBytes: Int64 = 16 << 20
        /// The smallest signed chunk but the last, as S3 requires: every chunk costs two HMACs
        /// and a SHA-256 finalisation, which tiny chunks would multiply thousands of times.
        public static let minSignedChunkBytes: Int64 = 8 << 10
        /// At most this many trailer lines.
        public static let maxTrailers = 16

        private enum State: Sendable {
            case header
            case data(remaining: Int64)
            case dataEnd
            case trailers
            case done
        }

        private let signing: SigV4.ChunkSigning?
        private let signedTrailer: Bool
        private let announcedLength: Int64
        private let expectedTrailer: String?
        /// A signed chunk's data, held until its signature is checked.
        private var held = ByteBuffer()
        private var state = State.header
        private var line: [UInt8] = []
        private var previousSignature: String
        private var chunkSignature: String?
        private var chunkHash = SHA256()
        private var trailerLines: [String] = []
        private var trailerSignature: String?
        /// A signed data chunk under `minSignedChunkBytes` was read: it must have been the last.
        private var shortChunkRead = false
        /// Decoded bytes handed on so far.
        public private(set) var decodedLength: Int64 = 0

        /// `signing` nil: unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`). `signedTrailer`:
        /// the trailer ends with `x-amz-trailer-signature`. `announcedLength`: the
        /// `x-amz-decoded-content-length` header (S3 requires it). `trailer`: the `x-amz-trailer`
        /// header, the one trailer the body must end with (nil: none allowed).
        public init(signing: SigV4.ChunkSigning?, signedTrailer: Bool = false, announcedLength: Int64, trailer: String? = nil) {
            self.signing = signing
            self.signedTrailer = signedTrailer && signing != nil
            self.announcedLength = announcedLength
            expectedTrailer = trailer.map { $0.trimmingSpaces.lowercased() }
            previousSignature = signing?.seedSignature ?? ""
        }

        /// Whether the final chunk and its trailers have been read.
        public var isComplete: Bool { if case .done = state { true } else { false } }

        /// Decodes the next piece of the body; `emit` receives the data it holds, in order.
        public mutating func feed(_ input: ByteBuffer, emit: (ByteBuffer) throws -> Void) throws {
            var input = input
            while input.readableBytes > 0 {
                switch state {
                case .header:
                    guard let header = try takeLine(&input) else { return }
                    try startChunk(header)
                case .data(let remaining):
                    let take = Int(min(Int64(input.readableBytes), remaining))
                    var slice = input.readSlice(length: take)!
                    decodedLength += Int64(take)
                    if signing != nil {
                        slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) }
                        held.writeBuffer(&slice)
                    } else {
                        try emit(slice)
                    }
                    state = remaining - Int64(take) == 0 ? .dataEnd : .data(remaining: remaining - Int64(take))
                case .dataEnd:
                    guard let end = try takeLine(&input) else { return }
                    guard end.isEmpty else { throw DecodingError(.malformed, "a chunk's data is not followed by CRLF") }
                    try finishChunk()
                    if held.readableBytes > 0 {
                        try emit(held)
                        held = ByteBuffer()
                    }
                    if !isComplete { state = .header }
                case .trailers:
                    guard let trailer = try takeLine(&input) else { return }
                    try addTrailer(trailer)
                case .done:
                    throw DecodingError(.malformed, "bytes after the end of the aws-chunked body")
                }
            }
        }

        /// Called at the end of the body: checks that it was complete and returns the trailers
        /// (lowercased names), the trailer signature checked.
        public mutating func finish() throws -> [(name: String, value: String)] {
            // Some clients leave out the body's final empty line.
            if case .trailers = state, line.isEmpty { try endTrailers() }
            if case .dataEnd = state, finalEnd, line.isEmpty { state = .done }
            guard case .done = state else { throw DecodingError(.incomplete, "the body ended before the final aws-chunked chunk") }
            guard decodedLength == announcedLength else {
                throw DecodingError(.lengthMismatch, "the body holds \(decodedLength) bytes, not the \(announcedLength) x-amz-decoded-content-length announced")
            }
            let trailers = trailerLines.map(Self.split)
            if let expectedTrailer, trailers.map(\.name) != [expectedTrailer] {
                throw DecodingError(.malformed, "the body must end with the trailer x-amz-trailer declared (\(expectedTrailer.prefix(64)))")
            }
            return trailers
        }

        /// A line without its CRLF, or nil when the input ends first (the part read is kept).
        private mutating func takeLine(_ input: inout ByteBuffer) throws -> String? {
            let view = input.readableBytesView
            if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
                line += view[view.startIndex..<newline]
                input.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
                guard line.last == UInt8(ascii: "\r") else { throw DecodingError(.malformed, "aws-chunked lines end with CRLF") }
                line.removeLast()
                guard line.count <= Self.maxLineBytes else { throw DecodingError(.malformed, "an aws-chunked line is longer than \(Self.maxLineBytes) bytes") }
                defer { line = [] }
                guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw DecodingError(.malformed, "an aws-chunked line holds control or non-ASCII bytes") }
                return String(decoding: line, as: UTF8.self)
            }
            line += view
            input.moveReaderIndex(forwardBy: view.count)
            guard line.count <= Self.maxLineBytes + 1 else { throw DecodingError(.malformed, "an aws-chunked line is longer than \(Self.maxLineBytes) bytes") }
            return nil
        }

        private mutating func startChunk(_ header: String) throws {
            let parts = header.split(separator: ";", omittingEmptySubsequences: false)
            let sizeText = parts[0]
            guard (1...16).contains(sizeText.utf8.count), let size = Int64(sizeText, radix: 16), size >= 0 else {
                throw DecodingError(.malformed, "an aws-chunked chunk size must be 1-16 hex digits")
            }
            guard size <= announcedLength - decodedLength else {
                throw DecodingError(.lengthMismatch, "a chunk of \(size) bytes would pass the \(announcedLength) bytes x-amz-decoded-content-length announced")
            }
            if signing != nil, size > Self.maxSignedChunkBytes {
                throw DecodingError(.malformed, "a signed aws-chunked chunk is at most \(Self.maxSignedChunkBytes) bytes")
            }
            if signing != nil, size > 0 {
                guard !shortChunkRead else { throw DecodingError(.malformed, "a signed aws-chunked chunk but the last must hold at least \(Self.minSignedChunkBytes) bytes") }
                shortChunkRead = size < Self.minSignedChunkBytes
            }
            chunkSignature = nil
            for extensionText in parts.dropFirst() {
                let pair = extensionText.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if pair.count == 2, pair[0] == "chunk-signature" { chunkSignature = String(pair[1]) }
            }
            if signing != nil, chunkSignature == nil { throw DecodingError(.signatureMismatch, "a signed aws-chunked chunk has no chunk-signature") }
            if size == 0 {
                try finishChunk()
                if signing != nil && !signedTrailer {
                    state = .dataEnd
                    // The body ends with one more CRLF: read it as the final chunk's "data end".
                    finalEnd = true
                } else {
                    state = .trailers
                }
            } else {
                state = .data(remaining: size)
            }
        }

        /// Whether the `\r\n` expected next closes the body (signed chunks without a trailer).
        private var finalEnd = false

        private mutating func finishChunk() throws {
            if finalEnd {
                state = .done
                return
            }
            guard let signing, let signature = chunkSignature else { return }
            let stringToSign = [
                "AWS4-HMAC-SHA256-PAYLOAD", signing.timestamp, signing.scope, previousSignature, SigV4.emptyPayloadHash,
                Hex.encode(chunkHash.finalize()),
            ].joined(separator: "\n")
            let expected = SigV4.hmacHex(stringToSign, key: signing.key)
            guard SigV4.constantTimeEquals(expected, signature) else {
                throw DecodingError(.signatureMismatch, "an aws-chunked chunk signature does not match")
            }
            previousSignature = expected
            chunkSignature = nil
            chunkHash = SHA256()
        }

        private mutating func addTrailer(_ trailer: String) throws {
            if trailer.isEmpty { return try endTrailers() }
            guard let colon = trailer.firstIndex(of: ":"), colon != trailer.startIndex else {
                throw DecodingError(.malformed, "an aws-chunked trailer must be name:value")
            }
            let name = String(trailer[..<colon]).trimmingSpaces.lowercased()
            if name == "x-amz-trailer-signature" {
                guard signedTrailer, trailerSignature == nil else { throw DecodingError(.malformed, "unexpected x-amz-trailer-signature") }
                trailerSignature = String(trailer[trailer.index(after: colon)...]).trimmingSpaces
                return
            }
            guard trailerSignature == nil else { throw DecodingError(.malformed, "a trailer after x-amz-trailer-signature") }
            guard trailerLines.count < Self.maxTrailers else { throw DecodingError(.malformed, "more than \(Self.maxTrailers) aws-chunked trailers") }
            guard name == expectedTrailer, !trailerLines.map({ Self.split($0).name }).contains(name) else {
                throw DecodingError(.malformed, "the trailer \(name.prefix(64)) was not declared in x-amz-trailer, or comes twice")
            }
            trailerLines.append(trailer)
        }

        private mutating func endTrailers() throws {
            if signedTrailer, let signing {
                guard let signature = trailerSignature else { throw DecodingError(.signatureMismatch, "a signed trailer has no x-amz-trailer-signature") }
                let canonical = trailerLines.map(Self.split).map { "\($0.name):\($0.value)\n" }.joined()
                let stringToSign = [
                    "AWS4-HMAC-SHA256-TRAILER", signing.timestamp, signing.scope, previousSignature,
                    Hex.encode(SHA256.hash(data: Array(canonical.utf8))),
                ].joined(separator: "\n")
                guard SigV4.constantTimeEquals(SigV4.hmacHex(stringToSign, key: signing.key), signature) else {
                    throw DecodingError(.signatureMismatch, "the aws-chunked trailer signature does not match")
                }
            }
            state = .done
        }

        /// A trailer line's name (trimmed, lowercased) and value (trimmed).
        private static func split(_ line: String) -> (name: String, value: String) {
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]).trimmingSpaces.lowercased(), parts.count > 1 ? String(parts[1]).trimmingSpaces : "")
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
