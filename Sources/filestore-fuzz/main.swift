// libFuzzer harness over `NetworkParsers`: `filestore-fuzz TARGET [libFuzzer options] [CORPUS…]`,
// `filestore-fuzz --list`, `filestore-fuzz --seeds TARGET DIR`. Built and run by scripts/fuzz.
import Agent
import CLibFuzzer
import Foundation

/// The target this process fuzzes (set once, before the driver starts).
nonisolated(unsafe) var chosen: NetworkParsers.Target?

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("filestore-fuzz: \(message)\n".utf8))
    exit(2)
}

switch arguments.dropFirst().first {
case nil, "--help", "-h":
    print("usage: filestore-fuzz TARGET [libFuzzer options] [CORPUS…] | --list | --seeds TARGET DIR")
case "--list":
    for target in NetworkParsers.all { print("\(target.name)\t\(target.summary)") }
case "--seeds":
    guard arguments.count == 4, let target = NetworkParsers.named(arguments[2]) else { fail("--seeds TARGET DIR") }
    let directory = URL(fileURLWithPath: arguments[3], isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (index, seed) in target.seeds.enumerated() {
        try Data(seed).write(to: directory.appendingPathComponent("seed-\(index)"))
    }
case let name?:
    guard let target = NetworkParsers.named(name) else { fail("no target \(name); --list shows them") }
    chosen = target
    // libFuzzer reads its own options; the target's name is not one of them.
    let driverArguments = [arguments[0]] + arguments.dropFirst(2)
    var argc = Int32(driverArguments.count)
    var pointers: [UnsafeMutablePointer<CChar>?] = driverArguments.map { strdup($0) } + [nil]
    let status = pointers.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
    }
    exit(status)
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    chosen?.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
