/// A map from object addresses to values, tuned for the codec's common case
/// of a handful of objects per message: a linear scan over a short array,
/// switching to a dictionary past `linearLimit` entries. `removeAll` only
/// resets a count, so a reused map costs no allocation, hashing or clearing.
struct PointerMap<Value> {
    private static var linearLimit: Int { 16 }
    private var keys: [UnsafeRawPointer] = []
    private var values: [Value] = []
    private var count = 0
    private var index: [UnsafeRawPointer: Int]?

    subscript(key: UnsafeRawPointer) -> Value? {
        if let index { return index[key].map { values[$0] } }
        var i = 0
        while i < count {
            if keys[i] == key { return values[i] }
            i += 1
        }
        return nil
    }

    /// Adds a key that is not in the map yet.
    mutating func insert(_ key: UnsafeRawPointer, _ value: Value) {
        if count < keys.count {
            keys[count] = key
            values[count] = value
        } else {
            keys.append(key)
            values.append(value)
        }
        count += 1
        if index != nil {
            index![key] = count - 1
        } else if count > Self.linearLimit {
            index = Dictionary(uniqueKeysWithValues: zip(keys.prefix(count), 0..<count))
        }
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        if keys.count > 4096 {  // don't keep the storage of a huge message
            keys = []
            values = []
        }
        count = 0
        index = nil
    }
}
