/// A first-in, first-out queue with O(1) `append` and `popFirst` (an array
/// and a read position; the array is compacted when it drains). Actors queue
/// thousands of calls; `Array.removeFirst` made draining them quadratic.
package struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    package init() {}

    package var isEmpty: Bool { head == items.count }
    package var count: Int { items.count - head }
    package var first: Element? { isEmpty ? nil : items[head] }
    /// The queued elements, first to last.
    package var elements: ArraySlice<Element> { items[head...] }

    package mutating func append(_ element: Element) {
        items.append(element)
    }

    /// Puts `element` ahead of every queued one.
    package mutating func prepend(_ element: Element) {
        if head > 0 {
            head -= 1
            items[head] = element
        } else {
            items.insert(element, at: 0)
        }
    }

    package mutating func popFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)  // drop the consumed prefix, amortized O(1)
            head = 0
        }
        return element
    }

    /// Removes and returns the first element matching `predicate`.
    package mutating func remove(where predicate: (Element) -> Bool) -> Element? {
        guard let index = items[head...].firstIndex(where: predicate) else { return nil }
        return items.remove(at: index)
    }
}

extension FIFO: Sendable where Element: Sendable {}
