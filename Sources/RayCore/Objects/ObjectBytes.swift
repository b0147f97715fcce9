/// The encoded bytes of a stored object: an array, or memory owned by
/// another immutable object (a large block the encoder wrote the message
/// to), kept alive as long as these bytes are.
package struct ObjectBytes: @unchecked Sendable {
    // Safe to send: the array is a value, and `owner` is Sendable and keeps
    // `start` alive and unchanged.
    private let storage: [UInt8]
    private let owner: (any AnyObject & Sendable)?
    private let start: UnsafeRawPointer?
    package let count: Int

    package init(_ array: [UInt8]) {
        storage = array
        owner = nil
        start = nil
        count = array.count
    }

    /// Bytes in memory that `owner` keeps alive and never changes.
    package init(_ bytes: UnsafeRawBufferPointer, owner: any AnyObject & Sendable) {
        storage = []
        self.owner = owner
        start = bytes.baseAddress
        count = bytes.count
    }

    /// A copy of the bytes as an array.
    package var array: [UInt8] {
        owner == nil ? storage : withUnsafeBytes { [UInt8]($0) }
    }

    package func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        guard owner != nil else {
            return try storage.withUnsafeBytes { buffer in Result { () throws(E) in try body(buffer) } }.get()
        }
        return try withExtendedLifetime(owner) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: start, count: count))
        }
    }
}
