/// A binary min-heap of events by due time; ties keep insertion order, so a run that pushes the
/// same events pops them in the same order. The gossip simulator's event queue and the gossip
/// shell's timers.
///
/// The heap holds small fixed-size keys and the events wait in slots beside it: a sift moves
/// and compares keys only, never copies an event (a simulator event carries a packet's
/// messages, and copying it on every comparison was most of a thousand-member simulation).
public struct TimedQueue<Event> {
    private struct Key {
        var time: Duration
        var order: UInt64
        var slot: Int

        func precedes(_ other: Key) -> Bool { time != other.time ? time < other.time : order < other.order }
    }

    private var heap: [Key] = []
    private var slots: [Event?] = []
    private var freeSlots: [Int] = []
    private var counter: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    /// When the earliest event is due.
    public var peekTime: Duration? { heap.first?.time }

    public mutating func push(_ time: Duration, _ event: Event) {
        counter += 1
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: time, order: counter, slot: slot))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Drops every queued event matching `predicate` (rebuilding the heap).
    public mutating func removeAll(where predicate: (Event) -> Bool) {
        let kept = heap.sorted { $0.order < $1.order }.compactMap { key -> (Duration, Event)? in
            let event = slots[key.slot]!
            return predicate(event) ? nil : (key.time, event)
        }
        heap = []
        slots = []
        freeSlots = []
        for (time, event) in kept { push(time, event) }
    }

    public mutating func pop() -> (time: Duration, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].precedes(heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        let event = slots[top.slot].take()!
        freeSlots.append(top.slot)
        return (top.time, event)
    }

    /// Pops every event due at or before `time`, earliest first.
    public mutating func popDue(at time: Duration) -> [Event] {
        var due: [Event] = []
        while let next = peekTime, next <= time, let entry = pop() { due.append(entry.event) }
        return due
    }
}

extension TimedQueue: Sendable where Event: Sendable {}
