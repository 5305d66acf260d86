import Basics
import ArgumentParser
import Gossip
import GossipSimulation

/// `filestore-bench gossip`: the DESIGN.md §5 figures from the deterministic simulator.
struct GossipBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gossip", abstract: "Gossip detection, dissemination, false positives, load and partition figures (simulated).")

    @Option(parsing: .upToNextOption, help: "Cluster sizes (add 1000: about 3 minutes per seed and 1 minute per 6 simulated lossy minutes here).") var nodes: [Int] = [3, 10, 100]
    @Option(help: "Runs per figure (crash victims, partitions).") var seeds = 20
    @Flag(help: "Print each crash run's timeline (first suspicion, first death).") var verbose = false
    @Option(help: "Simulated hours per loss rate for false positives.") var hours = 1.0

    func run() throws {
        for count in nodes {
            let started = ContinuousClock.now
            var detections: [Double] = [], disseminations: [Double] = [], heals: [Double] = []
            var undetected = 0, unhealed = 0
            for seed in 0..<UInt64(seeds) {
                var simulator = GossipSimulator(count: count, seed: seed &* 7_919 &+ UInt64(count), formed: true)
                simulator.run(until: .seconds(20))
                // Dissemination: a restart announces a higher incarnation; time until everyone has it.
                let announcer = Int(seed) % count
                let announced = simulator.now
                simulator.restart(announcer, seed: (announcer + 1) % count, crashFirst: true)
                simulator.run(for: .seconds(10))
                disseminations += simulator.disseminationTimes(of: announcer, incarnation: simulator.nodes[announcer].me.incarnation, since: announced)
                // Detection: crash one member; time until every survivor marks it dead.
                let victim = (announcer + 1) % count
                let crashedAt = simulator.now
                simulator.crash(victim)
                simulator.run(for: .seconds(60))
                if let time = simulator.detectionTime(of: victim, since: crashedAt) { detections.append(time) } else { undetected += 1 }
                if verbose {
                    let line = simulator.detectionTimeline(of: victim, since: crashedAt)
                    print("  seed \(seed): all survivors \(fixed(detections.last ?? .nan, 1)) s, first suspicion \(fixed(line.firstSuspect ?? .nan, 1)) s, first death \(fixed(line.firstDead ?? .nan, 1)) s, \(line.accusers) members that had heard the suspicion by then")
                }
                // Partition: split in two for a minute, heal, time until all views agree.
                var healer = GossipSimulator(count: count, seed: seed &+ 1_000, formed: true)
                healer.run(until: .seconds(20))
                healer.partition = Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, $0 % 2) })
                healer.run(for: .seconds(60))
                healer.partition = nil
                let healedAt = healer.now
                while !healer.allViewsAlive && healer.now - healedAt < .seconds(120) { healer.run(for: .milliseconds(100)) }
                if healer.allViewsAlive { heals.append((healer.now - healedAt).inSeconds) } else { unhealed += 1 }
            }
            print("gossip N=\(count): crash detection mean \(fixed(mean(detections), 2)) s p99 \(fixed(percentile(detections, 0.99), 2)) s (\(detections.count) runs, \(undetected) undetected)")
            print("gossip N=\(count): update dissemination p99 \(fixed(percentile(disseminations, 0.99), 2)) s (max \(fixed(disseminations.max() ?? .nan, 2)) s over \(disseminations.count) deliveries)")
            print("gossip N=\(count): partition heal to agreeing views mean \(fixed(mean(heals), 1)) s max \(fixed(heals.max() ?? .nan, 1)) s (\(unhealed) not healed in 120 s)")
            print("gossip N=\(count): simulator wall time \(fixed((ContinuousClock.now - started).inSeconds, 1)) s for \(seeds) seeds of crash, restart and partition runs")

            // Steady state: packets per member per second, and false positives under uniform loss.
            var steady = GossipSimulator(count: count, seed: 42, formed: true)
            // Over two push-pull intervals (scaled with N), so full-state exchanges count in full.
            let window = max(.seconds(60), steady.nodes[0].settings.pushPullInterval(members: count) * 2)
            steady.run(until: .seconds(30))
            let before = steady.packetsSent.reduce(0, +)
            steady.run(for: window)
            print("gossip N=\(count): steady load \(fixed(Double(steady.packetsSent.reduce(0, +) - before) / Double(count) / window.inSeconds, 2)) packets/member/s (over \(fixed(window.inSeconds, 0)) s, full-state packets counted as the shell splits them)")
            for loss in [0.05, 0.10] {
                let lossStarted = ContinuousClock.now
                var lossy = GossipSimulator(count: count, seed: 7, formed: true)
                lossy.run(until: .seconds(20))
                lossy.network.loss = loss
                lossy.run(for: .seconds(3600 * hours))
                let falseDeaths = lossy.deathsOfRunningNodes(since: .seconds(20)).count
                print("gossip N=\(count): \(Int(loss * 100))% loss, \(hours) h: \(falseDeaths) false 'dead' declarations (\(fixed(Double(falseDeaths) / (Double(count) * hours), 3)) per node-hour; simulated in \(fixed((ContinuousClock.now - lossStarted).inSeconds, 1)) s)")
            }
        }
    }

    private func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
    private func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}
