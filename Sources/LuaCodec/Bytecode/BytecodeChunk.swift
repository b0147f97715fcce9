/// Parser and validator for Lua 5.4 binary chunks, the output of `lua_dump`.
///
/// Two jobs: on the sending side it yields the prototypes that the global
/// scan walks; on the receiving side it checks a chunk before `lua_load`
/// sees it. Lua's own undump trusts sizes (a hostile size makes it allocate
/// gigabytes before noticing truncation) and recurses without a limit, so
/// every count here is checked against the bytes that remain and nesting is
/// capped. The header must match this build of Lua byte for byte.
///
/// What is *not* checked: the operands of instructions. Executing bytecode is
/// trusted only from authenticated peers (see docs/codec-format.md).
struct BytecodeChunk {
    /// One function prototype; only what the global scan needs is kept.
    struct Prototype {
        var code: [UInt32] = []
        /// Constant i as a string, or nil if it is not a string.
        var stringConstants: [String?] = []
        /// (instack, index) for each upvalue.
        var upvalues: [(inStack: Bool, index: Int)] = []
        var prototypes: [Prototype] = []
        var maxStackSize = 0
    }

    /// The header `lua_dump` writes on this platform (Lua 5.4, format 0,
    /// 4-byte instructions, 8-byte integers and floats, little-endian).
    static let header: [UInt8] = [0x1B, 0x4C, 0x75, 0x61, 0x54, 0x00,
                                  0x19, 0x93, 0x0D, 0x0A, 0x1A, 0x0A,
                                  0x04, 0x08, 0x08,
                                  0x78, 0x56, 0, 0, 0, 0, 0, 0,
                                  0, 0, 0, 0, 0, 0x28, 0x77, 0x40]
    static let maxNesting = 200

    /// Checks the whole chunk; returns the main function's upvalue count.
    static func validate(_ bytes: UnsafeRawBufferPointer) throws(LuaCodecError) -> Int {
        var parser = Parser(reader: ByteReader(bytes), keep: false)
        return try parser.chunk().upvalueCount
    }

    /// Parses the whole chunk, keeping prototypes for analysis.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(LuaCodecError) -> Prototype {
        var parser = Parser(reader: ByteReader(bytes), keep: true)
        return try parser.chunk().main
    }

    private struct Parser {
        var reader: ByteReader
        let keep: Bool

        mutating func chunk() throws(LuaCodecError) -> (main: Prototype, upvalueCount: Int) {
            let head = try reader.bytes(BytecodeChunk.header.count)
            guard head.elementsEqual(BytecodeChunk.header) else {
                throw .malformed("bytecode header does not match this Lua 5.4 build")
            }
            let upvalueCount = Int(try reader.byte())
            var declaredUpvalues = 0
            let main = try function(depth: 0, upvalueCount: &declaredUpvalues)
            guard declaredUpvalues == upvalueCount else {
                throw .malformed("bytecode declares \(upvalueCount) upvalues, its function has \(declaredUpvalues)")
            }
            guard reader.isAtEnd else { throw .malformed("\(reader.remaining) trailing bytes after bytecode") }
            return (main, upvalueCount)
        }

        /// lundump's size encoding: 7 bits per byte, most significant first,
        /// the last byte marked by its high bit.
        mutating func size(limit: UInt64 = UInt64(Int32.max)) throws(LuaCodecError) -> Int {
            var value: UInt64 = 0
            while true {
                let b = try reader.byte()
                guard value <= limit >> 7 else { throw .malformed("bytecode size overflows") }
                value = (value << 7) | UInt64(b & 0x7F)
                if b & 0x80 != 0 { break }
            }
            guard value <= limit else { throw .malformed("bytecode size overflows") }
            return Int(value)
        }

        /// A count of items of at least `minimumSize` bytes each.
        mutating func count(_ minimumSize: Int, _ what: String) throws(LuaCodecError) -> Int {
            let n = try size()
            guard n <= reader.remaining / minimumSize else {
                throw .malformed("bytecode \(what) count \(n) exceeds the remaining \(reader.remaining) bytes")
            }
            return n
        }

        /// A string: size 0 is NULL, otherwise size-1 bytes follow.
        mutating func string() throws(LuaCodecError) -> UnsafeRawBufferPointer? {
            let n = try size(limit: UInt64(Int.max))
            if n == 0 { return nil }
            return try reader.bytes(n - 1)
        }

        mutating func function(depth: Int, upvalueCount: inout Int) throws(LuaCodecError) -> Prototype {
            guard depth < BytecodeChunk.maxNesting else { throw .malformed("bytecode functions nested too deeply") }
            var proto = Prototype()
            _ = try string()                       // source
            _ = try size()                         // linedefined
            _ = try size()                         // lastlinedefined
            _ = try reader.bytes(2)                // numparams, is_vararg
            proto.maxStackSize = Int(try reader.byte())

            let codeCount = try count(4, "instruction")
            let code = try reader.bytes(codeCount * 4)
            if keep {
                proto.code = (0..<codeCount).map { code.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) }
            }

            let constantCount = try count(1, "constant")
            if keep { proto.stringConstants.reserveCapacity(constantCount) }
            for _ in 0..<constantCount {
                var text: String?
                switch try reader.byte() {
                case 0x00, 0x01, 0x11: break                  // nil, false, true
                case 0x03, 0x13: _ = try reader.bytes(8)      // integer, float
                case 0x04, 0x14:                              // short, long string
                    guard let s = try string() else { throw .malformed("bytecode string constant without a body") }
                    if keep { text = String(decoding: s, as: UTF8.self) }
                case let tag: throw .malformed("bytecode constant has unknown tag \(tag)")
                }
                if keep { proto.stringConstants.append(text) }
            }

            let upvalues = try count(3, "upvalue")
            for _ in 0..<upvalues {
                let desc = try reader.bytes(3)
                if keep { proto.upvalues.append((desc[0] != 0, Int(desc[1]))) }
            }
            upvalueCount = upvalues

            let nested = try count(1, "nested function")
            for _ in 0..<nested {
                var ignored = 0
                let p = try function(depth: depth + 1, upvalueCount: &ignored)
                if keep { proto.prototypes.append(p) }
            }

            // Debug information: checked for consistency, since error messages
            // index it with program counters.
            let lineInfo = try count(1, "line info")
            guard lineInfo == 0 || lineInfo == codeCount else {
                throw .malformed("bytecode has \(lineInfo) line entries for \(codeCount) instructions")
            }
            _ = try reader.bytes(lineInfo)
            let absLineInfo = try count(2, "absolute line info")
            for _ in 0..<absLineInfo {
                let pc = try size()
                _ = try size()
                guard pc < codeCount else { throw .malformed("bytecode line info points past the code") }
            }
            let locals = try count(3, "local variable")
            for _ in 0..<locals {
                _ = try string()
                _ = try size()
                _ = try size()
            }
            // Upvalue names: none (stripped) or one per upvalue.
            let names = try size()
            guard names == 0 || names == upvalues else {
                throw .malformed("bytecode has \(names) upvalue names for \(upvalues) upvalues")
            }
            for _ in 0..<names { _ = try string() }
            return proto
        }
    }
}
