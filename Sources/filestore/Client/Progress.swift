import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A progress bar with rate and ETA on stderr when it is a terminal; silent when piped.
final class ProgressBar {
    let label: String
    let total: Int64?
    let enabled: Bool
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private(set) var done: Int64 = 0

    init(label: String, total: Int64?) {
        self.label = label
        self.total = total
        self.enabled = isatty(STDERR_FILENO) == 1
    }

    func advance(_ bytes: Int) {
        done += Int64(bytes)
        guard enabled, ContinuousClock.now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = .now
        draw()
    }

    func finish() {
        guard enabled else { return }
        draw()
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw() {
        let elapsed = ContinuousClock.now - started
        let seconds = max(0.001, elapsed.inSeconds)
        let rate = Double(done) / seconds
        var line = "\r\(label) "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            line += "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: 30 - filled) + "] "
            line += String(format: "%3.0f%%  ", fraction * 100)
            line += "\(Self.size(done)) of \(Self.size(total))  \(Self.size(Int64(rate)))/s"
            if rate > 0 && done < total { line += "  ETA \(Int((Double(total - done) / rate).rounded(.up)))s" }
        } else {
            line += "\(Self.size(done))  \(Self.size(Int64(rate)))/s"
        }
        FileHandle.standardError.write(Data((line + "   ").utf8))
    }

    /// `12.3 MiB`-style sizes.
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
