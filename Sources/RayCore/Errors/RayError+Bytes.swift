/// A RayError as stored-object bytes: "RE", a format version, the code,
/// then message, task, traceback and cause, each a presence byte and a
/// varint-length UTF-8 string. Value-codec messages start with "RV", so an
/// error object's bytes say which they hold (`StoredObject.rayError`), and
/// objects travel between nodes unchanged.
extension RayError {
    static let magic: (UInt8, UInt8) = (0x52, 0x45)  // "RE"
    static let formatVersion: UInt8 = 1

    /// The bytes `init?(encoded:)` reads back.
    package var encoded: [UInt8] {
        var out: [UInt8] = [Self.magic.0, Self.magic.1, Self.formatVersion, code.rawValue]
        func text(_ value: String?) {
            guard let value else {
                out.append(0)
                return
            }
            out.append(1)
            let bytes = Array(value.utf8)
            var n = UInt64(bytes.count)
            while n >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            out.append(UInt8(n))
            out += bytes
        }
        text(message)
        text(task)
        text(traceback)
        text(cause)
        return out
    }

    /// Whether `bytes` start as an encoded RayError does.
    static func isEncoded(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == magic.0 && bytes[1] == magic.1
    }

    /// Reads `encoded`'s bytes; nil for anything malformed (never traps).
    package init?(encoded bytes: UnsafeRawBufferPointer) {
        guard Self.isEncoded(bytes), bytes[2] == Self.formatVersion, let code = Code(rawValue: bytes[3]) else { return nil }
        var at = 4
        func text() -> String?? {
            guard at < bytes.count else { return .none }
            let present = bytes[at]
            at += 1
            if present == 0 { return .some(nil) }
            guard present == 1 else { return .none }
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < bytes.count, shift < 64 else { return .none }
                let byte = bytes[at]
                at += 1
                length |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            guard length <= UInt64(bytes.count - at) else { return .none }
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<at + Int(length)]), as: UTF8.self)
            at += Int(length)
            return .some(value)
        }
        guard case .some(let message?) = text(), case .some(let task) = text(), case .some(let traceback) = text(),
              case .some(let cause) = text(), at == bytes.count else { return nil }
        self.init(code, message, task: task, traceback: traceback, cause: cause)
    }
}

extension StoredObject {
    /// A runtime error as an object (what a failed task's returns hold).
    package init(error: RayError) {
        self.init(bytes: error.encoded, isError: true)
    }

    /// The runtime error this object holds, if it is one (not a value a task raised).
    package var rayError: RayError? {
        guard isError else { return nil }
        return bytes.withUnsafeBytes { RayError(encoded: $0) }
    }
}
