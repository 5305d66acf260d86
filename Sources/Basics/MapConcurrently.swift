/// `work` applied to every item, at most `width` at a time, the results in the items' order:
/// how an operation over many keys, parts or chunks reaches their owners without a storm of calls.
public func mapConcurrently<Item: Sendable, Result: Sendable>(
    _ items: [Item], width: Int = 8, _ work: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        func start() {
            let index = next, item = items[index]
            group.addTask { (index, try await work(item)) }
            next += 1
        }
        while next < min(max(1, width), items.count) { start() }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count { start() }
        }
        return results.map { $0! }
    }
}
