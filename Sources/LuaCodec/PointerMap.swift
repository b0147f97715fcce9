/// A map from object addresses to values, tuned for the codec's common case
/// of a handful of objects per message: a linear scan over a short array,
/// switching to a dictionary past `linearLimit` entries. Clearing keeps the
/// storage, so a reused map costs no allocation or hashing.
struct PointerMap<Value> {
    private static var linearLimit: Int { 16 }
    private var keys: [UnsafeRawPointer] = []
    private var values: [Value] = []
    private var index: [UnsafeRawPointer: Int]?

    var isEmpty: Bool { keys.isEmpty }

    subscript(key: UnsafeRawPointer) -> Value? {
        if let index { return index[key].map { values[$0] } }
        for i in keys.indices where keys[i] == key { return values[i] }
        return nil
    }

    /// Adds a key that is not in the map yet.
    mutating func insert(_ key: UnsafeRawPointer, _ value: Value) {
        keys.append(key)
        values.append(value)
        if index != nil {
            index![key] = keys.count - 1
        } else if keys.count > Self.linearLimit {
            index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
        }
    }

    mutating func removeAll() {
        guard !keys.isEmpty else { return }
        let keep = keys.count <= 4096
        keys.removeAll(keepingCapacity: keep)
        values.removeAll(keepingCapacity: keep)
        index = nil
    }
}
