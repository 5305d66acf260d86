import Basics
import Crypto
import NIOCore

extension S3 {
    /// Decodes an `aws-chunked` body as it streams in: `hex-size[;chunk-signature=sig]\r\n`,
    /// the data, `\r\n`, …, a zero-size chunk, then trailers (`name:value\r\n`) and an empty
    /// line. With signing, every chunk's signature is checked against the chain seeded by the
    /// request's own signature, and a signed trailer's `x-amz-trailer-signature` too. Memory is
    /// bounded: data passes through as slices of the input, and only header and trailer lines
    /// are held (at most `maxLineBytes` each). A chunk's data is handed on before its signature
    /// can be checked (it follows the data), so a caller must not make anything it stores
    /// visible before `finish()` returns.
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

        public static let maxLineBytes = 4096
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
        private let announcedLength: Int64?
        private var state = State.header
        private var line: [UInt8] = []
        private var previousSignature: String
        private var chunkSignature: String?
        private var chunkHash = SHA256()
        private var trailerLines: [String] = []
        private var trailerSignature: String?
        /// Decoded bytes handed on so far.
        public private(set) var decodedLength: Int64 = 0

        /// `signing` nil: unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`). `signedTrailer`:
        /// the trailer ends with `x-amz-trailer-signature`. `announcedLength`: the
        /// `x-amz-decoded-content-length` header, when sent.
        public init(signing: SigV4.ChunkSigning?, signedTrailer: Bool = false, announcedLength: Int64? = nil) {
            self.signing = signing
            self.signedTrailer = signedTrailer && signing != nil
            self.announcedLength = announcedLength
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
                    let slice = input.readSlice(length: take)!
                    if signing != nil { slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) } }
                    decodedLength += Int64(take)
                    if let announcedLength, decodedLength > announcedLength {
                        throw DecodingError(.lengthMismatch, "the body holds more than the \(announcedLength) bytes x-amz-decoded-content-length announced")
                    }
                    try emit(slice)
                    state = remaining - Int64(take) == 0 ? .dataEnd : .data(remaining: remaining - Int64(take))
                case .dataEnd:
                    guard let end = try takeLine(&input) else { return }
                    guard end.isEmpty else { throw DecodingError(.malformed, "a chunk's data is not followed by CRLF") }
                    try finishChunk()
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
            if let announcedLength, decodedLength != announcedLength {
                throw DecodingError(.lengthMismatch, "the body holds \(decodedLength) bytes, not the \(announcedLength) x-amz-decoded-content-length announced")
            }
            return trailerLines.map { line in
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                return (parts[0].lowercased(), parts.count > 1 ? String(parts[1]).trimmingSpaces : "")
            }
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
            let name = trailer[..<colon].lowercased()
            if name == "x-amz-trailer-signature" {
                guard signedTrailer, trailerSignature == nil else { throw DecodingError(.malformed, "unexpected x-amz-trailer-signature") }
                trailerSignature = String(trailer[trailer.index(after: colon)...]).trimmingSpaces
                return
            }
            guard trailerSignature == nil else { throw DecodingError(.malformed, "a trailer after x-amz-trailer-signature") }
            guard trailerLines.count < Self.maxTrailers else { throw DecodingError(.malformed, "more than \(Self.maxTrailers) aws-chunked trailers") }
            trailerLines.append(trailer)
        }

        private mutating func endTrailers() throws {
            if signedTrailer, let signing {
                guard let signature = trailerSignature else { throw DecodingError(.signatureMismatch, "a signed trailer has no x-amz-trailer-signature") }
                let canonical = trailerLines.map { line -> String in
                    let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    return "\(parts[0].lowercased()):\(parts.count > 1 ? String(parts[1]).trimmingSpaces : "")\n"
                }.joined()
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
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
