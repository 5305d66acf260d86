/// A binary min-heap of events by due time; ties keep insertion order, so a run that pushes the
/// same events pops them in the same order. The gossip simulator's event queue and the gossip
/// shell's timers.
public struct TimedQueue<Event> {
    private var heap: [(time: Duration, order: UInt64, event: Event)] = []
    private var counter: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    /// When the earliest event is due.
    public var peekTime: Duration? { heap.first?.time }

    public mutating func push(_ time: Duration, _ event: Event) {
        counter += 1
        heap.append((time, counter, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Drops every queued event matching `predicate` (rebuilding the heap).
    public mutating func removeAll(where predicate: (Event) -> Bool) {
        let kept = heap.filter { !predicate($0.event) }
        heap = []
        for entry in kept.sorted(by: { $0.order < $1.order }) { push(entry.time, entry.event) }
    }

    public mutating func pop() -> (time: Duration, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && less(left, smallest) { smallest = left }
            if right < heap.count && less(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }

    /// Pops every event due at or before `time`, earliest first.
    public mutating func popDue(at time: Duration) -> [Event] {
        var due: [Event] = []
        while let next = peekTime, next <= time, let entry = pop() { due.append(entry.event) }
        return due
    }

    private func less(_ a: Int, _ b: Int) -> Bool { heap[a].time != heap[b].time ? heap[a].time < heap[b].time : heap[a].order < heap[b].order }
}

extension TimedQueue: Sendable where Event: Sendable {}
