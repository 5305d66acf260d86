import Foundation
import LocalProcesses

#if canImport(Glibc)
import Glibc
#endif

/// Network partitions between agents that each have their own loopback address
/// (`LocalCluster.Options.addressPerNode`): iptables `DROP` rules in a chain of our own, hooked
/// into `INPUT`, flushed by `heal()` and deleted by `remove()` (also called before installing,
/// so a run that died cannot leave rules behind). Needs root and iptables.
struct Partition {
    static let chain = "FILESTORE_DRILL"

    /// Why partitions cannot be made here, or nil when they can.
    static var unavailable: String? {
        if getuid() != 0 { return "needs root (iptables)" }
        if Executables.find("iptables") == nil { return "needs iptables" }
        return nil
    }

    static func install() throws {
        remove()
        _ = try Executables.run("iptables", ["-w", "-N", chain])
        _ = try Executables.run("iptables", ["-w", "-I", "INPUT", "-j", chain])
    }

    /// Drops every packet between `a` and `b`, both ways.
    static func cut(_ a: String, _ b: String) throws {
        for (source, destination) in [(a, b), (b, a)] {
            _ = try Executables.run("iptables", ["-w", "-A", chain, "-s", source, "-d", destination, "-j", "DROP"])
        }
    }

    static func heal() { _ = try? Executables.run("iptables", ["-w", "-F", chain]) }

    static func remove() {
        _ = try? Executables.run("iptables", ["-w", "-D", "INPUT", "-j", chain])
        _ = try? Executables.run("iptables", ["-w", "-F", chain])
        _ = try? Executables.run("iptables", ["-w", "-X", chain])
    }
}
