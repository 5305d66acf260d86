import Ring

extension Gossip {
    /// The binary packet format: `[version 1][count]` then per message `[type][length u16][body]`.
    /// Length prefixes bound every read and let newer message types be skipped by older nodes.
    public enum Codec {
        /// The wire version this code speaks.
        public static let version: UInt8 = 2

        /// Packs `messages` into as few packets as fit in `limit` bytes each (in order). A single
        /// message larger than a packet is split when it is a `state`, dropped otherwise (never sent).
        public static func encode(_ messages: [Message], limit: Int) -> [[UInt8]] {
            var packets: [[UInt8]] = []
            var current: [[UInt8]] = []
            var size = 2
            func flush() {
                guard !current.isEmpty else { return }
                var writer = WireWriter()
                writer.u8(version)
                writer.u8(UInt8(current.count))
                for framed in current { writer.append(framed) }
                packets.append(writer.bytes)
                current = []
                size = 2
            }
            for message in messages.flatMap({ splitToFit($0, limit: limit) }) {
                let framed = frame(message)
                guard framed.count + 2 <= limit else { continue }
                if size + framed.count > limit || current.count == 255 { flush() }
                current.append(framed)
                size += framed.count
            }
            flush()
            return packets
        }

        /// Parses a packet; throws `WireError.malformed` on anything it cannot fully read.
        public static func decode(_ bytes: [UInt8]) throws(WireError) -> [Message] {
            var reader = WireReader(bytes)
            let packetVersion = try reader.u8()
            guard packetVersion == version else { throw .malformed("unknown wire version \(packetVersion)") }
            let count = Int(try reader.u8())
            var messages: [Message] = []
            for _ in 0..<count {
                let type = try reader.u8()
                let length = Int(try reader.u16())
                let start = reader.offset
                _ = try reader.take(length)
                var body = WireReader(bytes, from: start, to: start + length)
                guard let message = try decodeBody(type: type, &body) else { continue }  // unknown type: skipped
                guard body.isAtEnd else { throw .malformed("trailing bytes in message type \(type)") }
                messages.append(message)
            }
            guard reader.isAtEnd else { throw .malformed("trailing bytes after \(count) messages") }
            return messages
        }

        /// The framed size of one message (type, length and body).
        public static func encodedSize(_ message: Message) -> Int { frame(message).count }

        /// A full state cut into parts that each fit a packet of their own, members packed in
        /// order; each member is measured once, so a thousand-member state costs O(N), not the
        /// O(N log N) of halving. A single member too large for any packet is dropped by `encode`.
        private static func splitToFit(_ message: Message, limit: Int) -> [Message] {
            guard case .state(let members, let reply, let from) = message, members.count > 1 else { return [message] }
            let header = frame(.state(members: [], reply: reply, from: from)).count + 2  // + the packet's version and count
            var parts: [Message] = [], part: [Member] = [], size = header
            for member in members {
                var writer = WireWriter()
                writeMember(member, &writer)
                if !part.isEmpty, size + writer.bytes.count > limit {
                    parts.append(.state(members: part, reply: reply, from: from))
                    part = []
                    size = header
                }
                part.append(member)
                size += writer.bytes.count
            }
            parts.append(.state(members: part, reply: reply, from: from))
            return parts
        }

        private static func frame(_ message: Message) -> [UInt8] {
            var body = WireWriter()
            let type: UInt8
            switch message {
            case .ping(let sequence, let target, let from):
                type = 1; body.u64(sequence); body.string(target.rawValue); body.string(from.rawValue)
            case .ack(let sequence, let from):
                type = 2; body.u64(sequence); body.string(from.rawValue)
            case .nack(let sequence, let from):
                type = 3; body.u64(sequence); body.string(from.rawValue)
            case .pingRequest(let sequence, let target, let address, let from):
                type = 4; body.u64(sequence); body.string(target.rawValue); writeAddress(address, &body); body.string(from.rawValue)
            case .alive(let member):
                type = 5; writeMember(member, &body)
            case .suspect(let id, let incarnation, let from):
                type = 6; body.string(id.rawValue); body.u64(incarnation); body.string(from.rawValue)
            case .dead(let id, let incarnation, let from):
                type = 7; body.string(id.rawValue); body.u64(incarnation); body.string(from.rawValue)
            case .left(let id, let incarnation):
                type = 8; body.string(id.rawValue); body.u64(incarnation)
            case .load(let id, let version, let report):
                type = 9; body.string(id.rawValue); body.u64(version); writeLoad(report, &body)
            case .state(let members, let reply, let from):
                type = 10; body.bool(reply); body.string(from.rawValue); body.u16(UInt16(members.count))
                for member in members { writeMember(member, &body) }
            }
            var framed = WireWriter()
            framed.u8(type)
            framed.u16(UInt16(min(body.bytes.count, Int(UInt16.max))))
            framed.append(body.bytes)
            return framed.bytes
        }

        private static func decodeBody(type: UInt8, _ reader: inout WireReader) throws(WireError) -> Message? {
            switch type {
            case 1: return .ping(sequence: try reader.u64(), target: try reader.nodeID(), from: try reader.nodeID())
            case 2: return .ack(sequence: try reader.u64(), from: try reader.nodeID())
            case 3: return .nack(sequence: try reader.u64(), from: try reader.nodeID())
            case 4: return .pingRequest(sequence: try reader.u64(), target: try reader.nodeID(), targetAddress: try readAddress(&reader), from: try reader.nodeID())
            case 5: return .alive(try readMember(&reader))
            case 6: return .suspect(id: try reader.nodeID(), incarnation: try reader.u64(), from: try reader.nodeID())
            case 7: return .dead(id: try reader.nodeID(), incarnation: try reader.u64(), from: try reader.nodeID())
            case 8: return .left(id: try reader.nodeID(), incarnation: try reader.u64())
            case 9: return .load(id: try reader.nodeID(), version: try reader.u64(), report: try readLoad(&reader))
            case 10:
                let reply = try reader.bool()
                let from = try reader.nodeID()
                let count = Int(try reader.u16())
                var members: [Member] = []
                for _ in 0..<count { members.append(try readMember(&reader)) }
                return .state(members: members, reply: reply, from: from)
            default: return nil
            }
        }

        private static func writeAddress(_ address: Address, _ writer: inout WireWriter) {
            writer.string(address.host)
            writer.u16(UInt16(clamping: address.port))
        }

        private static func readAddress(_ reader: inout WireReader) throws(WireError) -> Address {
            let host = try reader.string()
            let port = Int(try reader.u16())
            guard !host.isEmpty, port > 0 else { throw .malformed("bad address") }
            return Address(host: host, port: port)
        }

        private static func writeLoad(_ load: LoadReport, _ writer: inout WireWriter) {
            writer.u32(load.inFlightRequests)
            for value in [load.bytesInPerSecond, load.bytesOutPerSecond, load.storageUsedBytes, load.storageCapacityBytes, load.chunkCount, load.repairBacklogBytes, load.underReplicated, load.hintsPending, load.repairBytesPerSecond, load.atRisk] {
                writer.u64(value)
            }
        }

        private static func readLoad(_ reader: inout WireReader) throws(WireError) -> LoadReport {
            var load = LoadReport()
            load.inFlightRequests = try reader.u32()
            load.bytesInPerSecond = try reader.u64()
            load.bytesOutPerSecond = try reader.u64()
            load.storageUsedBytes = try reader.u64()
            load.storageCapacityBytes = try reader.u64()
            load.chunkCount = try reader.u64()
            load.repairBacklogBytes = try reader.u64()
            load.underReplicated = try reader.u64()
            load.hintsPending = try reader.u64()
            load.repairBytesPerSecond = try reader.u64()
            load.atRisk = try reader.u64()
            return load
        }

        private static func writeMember(_ member: Member, _ writer: inout WireWriter) {
            writer.string(member.id.rawValue)
            writer.u64(member.incarnation)
            writer.u8(member.status.rawValue)
            writeAddress(member.metadata.gossip, &writer)
            writer.string(member.metadata.http)
            writer.string(member.metadata.peer)
            writer.string(member.metadata.s3)
            writer.string(member.metadata.zone)
            writer.f64(member.metadata.weight)
            writer.u8(member.metadata.ringState.rawValue)
            writer.u64(member.loadVersion)
            writeLoad(member.load, &writer)
        }

        private static func readMember(_ reader: inout WireReader) throws(WireError) -> Member {
            let id = try reader.nodeID()
            let incarnation = try reader.u64()
            guard let status = Status(rawValue: try reader.u8()) else { throw .malformed("bad status") }
            let gossip = try readAddress(&reader)
            let http = try reader.string()
            let peer = try reader.string()
            let s3 = try reader.string()
            let zone = try reader.string()
            let weight = try reader.f64()
            guard weight.isFinite, weight > 0, weight <= Ring.maxWeight else { throw .malformed("bad weight") }
            guard let ringState = RingState(rawValue: try reader.u8()) else { throw .malformed("bad ring state") }
            let loadVersion = try reader.u64()
            let load = try readLoad(&reader)
            return Member(id: id, incarnation: incarnation, status: status, metadata: Metadata(gossip: gossip, http: http, peer: peer, s3: s3, zone: zone, weight: weight, ringState: ringState), load: load, loadVersion: loadVersion)
        }
    }
}
