import NIOCore

/// A push parser for `multipart/form-data` (RFC 7578) that never holds a part's body: feed it
/// the request bytes as they arrive and it hands back events, buffering at most one delimiter's
/// length of body plus one part's headers (capped). Pure: no I/O, testable with any split.
struct MultipartParser {
    enum Event: Equatable {
        /// A part begins; `name` and `filename` come from its Content-Disposition.
        case partBegin(name: String, filename: String?)
        case body(ByteBuffer)
        case partEnd
    }

    struct Failure: Error, Equatable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static let maxHeaderBytes = 16 * 1024

    private enum State { case preamble, headers, body, afterDelimiter, done }
    private var state = State.preamble
    private var pending = ByteBuffer()
    /// `\r\n--boundary`: what ends a part's body.
    private let delimiter: [UInt8]

    /// Extracts the boundary from a `Content-Type` header; nil unless it is multipart/form-data with one.
    static func boundary(fromContentType contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingSpaces() }
        guard let type = parts.first, type.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pieces = parameter.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, pieces[0].trimmingSpaces().lowercased() == "boundary" else { continue }
            var value = pieces[1].trimmingSpaces()
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count) else { return nil }
            return value
        }
        return nil
    }

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The first delimiter may come without the leading CRLF: pretend one came before the body.
        pending.writeBytes([13, 10])
    }

    /// Whether the closing delimiter has been seen.
    var isComplete: Bool { state == .done }

    /// Feeds the next bytes; returns what they completed.
    mutating func feed(_ buffer: ByteBuffer) throws(Failure) -> [Event] {
        guard state != .done else { return [] }  // the epilogue after the closing delimiter is ignored
        var buffer = buffer
        pending.writeBuffer(&buffer)
        var events: [Event] = []
        while true {
            switch state {
            case .preamble:
                guard let index = find(delimiter) else {
                    // Keep only what could still begin the delimiter.
                    pending.moveReaderIndex(forwardBy: max(0, pending.readableBytes - delimiter.count))
                    pending.discardReadBytes()
                    return events
                }
                pending.moveReaderIndex(forwardBy: index + delimiter.count)
                state = .afterDelimiter
            case .afterDelimiter:
                guard pending.readableBytes >= 2 else { return events }
                let next = pending.getBytes(at: pending.readerIndex, length: 2)!
                if next == [45, 45] {  // "--": the closing delimiter
                    state = .done
                    pending.clear()
                    return events
                }
                guard let lineEnd = find([13, 10]) else {
                    guard pending.readableBytes < 256 else { throw Failure(message: "malformed multipart: junk after a boundary") }
                    return events
                }
                // Transport padding (spaces, tabs) may follow the boundary before its CRLF.
                guard pending.getBytes(at: pending.readerIndex, length: lineEnd)!.allSatisfy({ $0 == 32 || $0 == 9 }) else {
                    throw Failure(message: "malformed multipart: junk after a boundary")
                }
                pending.moveReaderIndex(forwardBy: lineEnd + 2)
                state = .headers
            case .headers:
                guard let end = find([13, 10, 13, 10]) else {
                    guard pending.readableBytes <= Self.maxHeaderBytes else { throw Failure(message: "multipart part headers exceed \(Self.maxHeaderBytes) bytes") }
                    return events
                }
                let text = pending.readString(length: end) ?? ""
                pending.moveReaderIndex(forwardBy: 4)
                events.append(try Self.disposition(headers: text))
                state = .body
            case .body:
                if let index = find(delimiter) {
                    if index > 0 { events.append(.body(pending.readSlice(length: index)!)) }
                    pending.moveReaderIndex(forwardBy: delimiter.count)
                    events.append(.partEnd)
                    state = .afterDelimiter
                } else {
                    // Everything except a possible delimiter prefix at the end is body.
                    let safe = pending.readableBytes - (delimiter.count - 1)
                    if safe > 0 { events.append(.body(ByteBuffer(buffer: pending.readSlice(length: safe)!))) }
                    pending.discardReadBytes()
                    return events
                }
            case .done:
                return events
            }
        }
    }

    /// Call after the last bytes: the body must have ended with the closing delimiter.
    func finish() throws(Failure) {
        guard state == .done else { throw Failure(message: "the multipart body ended before its closing boundary (truncated upload)") }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        pending.withUnsafeReadableBytes { bytes -> Int? in
            guard bytes.count >= needle.count, let first = needle.first else { return nil }
            var index = 0
            let last = bytes.count - needle.count
            while index <= last {
                if bytes[index] == first {
                    var match = true
                    for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                        match = false
                        break
                    }
                    if match { return index }
                }
                index += 1
            }
            return nil
        }
    }

    /// Reads `name` and `filename` from a part's `Content-Disposition: form-data` header.
    static func disposition(headers text: String) throws(Failure) -> Event {
        for line in text.split(separator: "\r\n") {
            let pieces = line.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2, pieces[0].trimmingSpaces().lowercased() == "content-disposition" else { continue }
            var name: String?
            var filename: String?
            for parameter in pieces[1].split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                var value = pair[1].trimmingSpaces()
                if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch pair[0].trimmingSpaces().lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name else { throw Failure(message: "malformed multipart: a part's Content-Disposition has no name") }
            return .partBegin(name: name, filename: filename)
        }
        throw Failure(message: "malformed multipart: a part has no Content-Disposition header")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
