import Basics
import ArgumentParser
import AsyncHTTPClient
import ByteStreams
import Crypto
import Foundation
import NIOCore
import PublicAPI

/// `filestore put FILE [PATH]`: upload a file (or `-` for stdin), streamed, checked end to end.
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Upload a file (or - for stdin).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "The local file, or - for standard input.") var file: String
    @Argument(help: "Where to store it (default: the file's name).") var path: String?
    @Flag(help: "Print the stored file as JSON.") var json = false

    func run() async throws {
        try await runClient {
            let target = path ?? (file == "-" ? nil : (file as NSString).lastPathComponent)
            guard let target, !target.isEmpty else { throw ClientError("give a PATH to store standard input under") }
            let handle: FileHandle
            var size: Int64?
            if file == "-" {
                handle = .standardInput
            } else {
                guard let opened = FileHandle(forReadingAtPath: file) else { throw ClientError("cannot read \(file)") }
                handle = opened
                size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value
            }
            let progress = ProgressBar(label: "put \(target)", total: size)
            let source = FileBytes(handle: handle, progress: progress)
            try await APIConnection.with(client) { connection in
                var request = connection.request(.PUT, "/api/v1/files/" + APIConnection.encode(path: target))
                request.body = .stream(source, length: size.map { .known($0) } ?? .unknown)
                let response = try await connection.send(request)
                let answer = try await response.body.collect(upTo: 1 << 20)
                progress.finish()
                let stored = try APIJSON.decode(FileInfo.self, from: answer.readableBytesView)
                // The agent hashed what it stored; so did we, as the bytes left: they must agree.
                guard let sent = source.digest(), stored.sha256 == sent else {
                    throw ClientError("the stored file's SHA-256 does not match what was sent")
                }
                if json {
                    say(String(decoding: answer.readableBytesView, as: UTF8.self))
                } else {
                    say("stored \(stored.path)  \(ProgressBar.size(stored.size))  sha256 \(sent)")
                }
            }
        }
    }
}

/// A file's bytes as an async sequence of 1 MiB buffers, read straight into each buffer and
/// hashed on another core while the next is read and sent (`PipelinedDigest`), counted as they go.
final class FileBytes: AsyncSequence, @unchecked Sendable {
    // Unchecked: read by one request body stream at a time (AsyncHTTPClient iterates it once).
    typealias Element = ByteBuffer
    let handle: FileHandle
    let progress: ProgressBar
    private var hasher = PipelinedDigest(SHA256(), depth: 4) { $0.update(bufferPointer: $1) }
    private var finished: String?

    init(handle: FileHandle, progress: ProgressBar) {
        self.handle = handle
        self.progress = progress
    }

    /// The SHA-256 of everything read, once the end was reached.
    func digest() -> String? { finished }

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: FileBytes
        mutating func next() async throws -> ByteBuffer? { try await source.read() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }

    private func read() async throws -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        var (ended, failure): (Bool, Int32) = (false, 0)
        while buffer.writableBytes > 0, !ended {
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                let count = Foundation.read(handle.fileDescriptor, space.baseAddress, space.count)
                if count > 0 { return count }
                if count == 0 { ended = true } else if errno != EINTR { failure = errno }
                return 0
            }
            if failure != 0 { throw ClientError("reading the file failed: \(String(cString: strerror(failure)))") }
        }
        guard buffer.readableBytes > 0 else {
            if finished == nil { finished = SHA256Hex.hex(await hasher.result().finalize()) }
            return nil
        }
        await hasher.feed([buffer])
        progress.advance(buffer.readableBytes)
        return buffer
    }
}

enum SHA256Hex {
    static func hex(_ digest: SHA256.Digest) -> String { Hex.encode(digest) }
}

/// `filestore get PATH [FILE]`: download to a file (or stdout), verified against the SHA-256.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Download a file (to FILE, or stdout).")
    @OptionGroup var client: ClientOptions
    @Argument(help: "The stored path.") var path: String
    @Argument(help: "Where to write it (default: standard output; - also means stdout).") var file: String?

    func run() async throws {
        try await withConnection(client) { connection in
            let response = try await connection.send(connection.request(.GET, "/api/v1/files/" + APIConnection.encode(path: path)))
            let total = response.headers.first(name: "Content-Length").flatMap(Int64.init)
            let expected = response.headers.first(name: "X-Checksum-SHA256")
            let toStdout = file == nil || file == "-"
            let temporary = toStdout ? nil : (file! + ".filestore-partial")
            let output: FileHandle
            if let temporary {
                guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
                    throw ClientError("cannot write \(file!)")
                }
                output = handle
            } else {
                output = .standardOutput
            }
            let progress = ProgressBar(label: "get \(path)", total: total)
            // Hashed on another core while the next bytes arrive and are written.
            var hasher = PipelinedDigest(SHA256(), depth: 8) { $0.update(bufferPointer: $1) }
            do {
                for try await buffer in response.body {
                    await hasher.feed([buffer])
                    try Self.write(buffer, to: output.fileDescriptor)
                    progress.advance(buffer.readableBytes)
                }
                progress.finish()
                let received = SHA256Hex.hex(await hasher.result().finalize())
                guard expected == nil || expected == received else { throw ClientError("the download's SHA-256 \(received) differs from the stored \(expected!)") }
                if let temporary {
                    try output.close()
                    if FileManager.default.fileExists(atPath: file!) { try FileManager.default.removeItem(atPath: file!) }
                    try FileManager.default.moveItem(atPath: temporary, toPath: file!)
                }
            } catch {
                if let temporary { try? FileManager.default.removeItem(atPath: temporary) }
                throw error
            }
        }
    }
}

extension GetCommand {
    /// Writes all of `buffer` to `descriptor` from its own memory (no copy into a `Data`).
    static func write(_ buffer: ByteBuffer, to descriptor: Int32) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ClientError("writing the download failed: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }
}

/// `filestore ls [PREFIX]`: list files (all pages).
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List files.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Only paths starting with this.") var prefix: String = ""
    @Flag(help: "Print JSON (one array of files).") var json = false

    func run() async throws {
        try await withConnection(client) { connection in
            var files: [FileInfo] = []
            var after: String?
            var unanswered: Set<String> = []
            repeat {
                var path = "/api/v1/files?limit=1000&prefix=" + APIConnection.encode(query: prefix)
                if let after { path += "&after=" + APIConnection.encode(query: after) }
                let page = try await connection.get(path, as: FileListing.self)
                files += page.files
                after = page.next
                if page.partial { unanswered.formUnion(page.unansweredNodes) }
            } while after != nil
            if json {
                say(try APIJSON.text(files))
            } else {
                for file in files {
                    let size = ProgressBar.size(file.size)
                    say("\(size.padding(toLength: 11, withPad: " ", startingAt: 0)) \(file.createdAt.prefix(19))  \(file.path)")
                }
            }
            // Never a silent gap: what was listed is printed, and the exit status says it may not be all.
            if !unanswered.isEmpty {
                throw ClientError("the listing may be incomplete: no answer from \(unanswered.sorted().joined(separator: ", "))")
            }
        }
    }
}

/// `filestore rm PATH`.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a file.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "The stored path.") var path: String

    func run() async throws {
        try await withConnection(client) { connection in
            try await connection.delete("/api/v1/files/" + APIConnection.encode(path: path))
            say("deleted \(path)")
        }
    }
}

/// `filestore stat PATH`: the file and where each of its chunks is stored.
struct StatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show a file and the nodes holding each chunk.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "The stored path.") var path: String
    @Flag(help: "Print the JSON answer.") var json = false

    func run() async throws {
        try await withConnection(client) { connection in
            let meta = try await connection.get("/api/v1/meta/" + APIConnection.encode(path: path), as: FileMeta.self)
            if json {
                say(try APIJSON.text(meta))
                return
            }
            let file = meta.file
            say("path     \(file.path)")
            say("owner    \(file.owner)")
            say("size     \(file.size) bytes")
            say("sha256   \(file.sha256)")
            say("type     \(file.contentType)")
            say("created  \(file.createdAt)   version \(file.version)")
            for chunk in meta.chunks {
                say("chunk \(chunk.index)  \(chunk.sha256.prefix(16))…  \(chunk.size) bytes  on \(chunk.replicas.joined(separator: ", "))")
            }
        }
    }
}
