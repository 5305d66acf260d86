import Synchronization

extension Atomic where Value == Int {
    /// Counts one more unless that would pass `limit`; false (and unchanged) when it would.
    /// Concurrent callers cannot overdraw it: each adds first and takes back what passed.
    public func enter(limit: Int) -> Bool {
        guard wrappingAdd(1, ordering: .relaxed).newValue <= limit else {
            wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }
}
