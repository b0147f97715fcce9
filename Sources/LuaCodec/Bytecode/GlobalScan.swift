/// Finds the globals a function reads, by walking its Lua 5.4 bytecode.
///
/// A global read is a table access on an *environment*: an upvalue whose
/// value is the global table (`_ENV`, or a local alias such as `local G = _G`
/// captured as an upvalue), or a register known to hold one. Accesses are
/// `GETTABUP env "name"`, `GETFIELD`/`SELF` on an environment register, or,
/// in functions with more than 255 constants, `GETUPVAL env` + `LOADK "name"`
/// + `GETTABLE`. Reading `_G` from an environment yields an environment
/// again, so `_G.helper` and `local G = _G; G.helper` are seen.
///
/// What registers hold is a dataflow over the control-flow graph: the state
/// at an instruction reached from several places (a loop head, the join after
/// an `if`) is what all of them agree on, iterated to a fixpoint. So a key
/// that is a known string on one path only is not a known string.
///
/// A read with a key that is not a known string (`_G[expr]`, `_G[1]`) sets
/// `dynamic`: the caller cannot know which globals to ship.
struct GlobalScan {
    /// Names read, in first-seen order, without duplicates.
    private(set) var reads: [String] = []
    private(set) var dynamic = false
    private var seen: Set<String> = []
    private var visitedClosures: Set<[Int]> = []

    /// Scans `proto`, whose upvalue i (0-based) is an environment when `isEnvironment(i)`.
    init(_ proto: BytecodeChunk.Prototype, isEnvironment: (Int) -> Bool) {
        let env = Set(proto.upvalues.indices.filter(isEnvironment))
        visit(proto, environmentUpvalues: env, path: [])
    }

    private enum Register: Equatable {
        case unknown
        case environment
        case string(String)
    }

    private mutating func read(_ name: String) {
        if !name.isEmpty && seen.insert(name).inserted { reads.append(name) }
    }

    /// A read of `key` from an environment; returns what the result register holds.
    private mutating func environmentRead(_ key: String?) -> Register {
        guard let key else {
            dynamic = true
            return .unknown
        }
        read(key)
        return key == "_G" ? .environment : .unknown
    }

    private mutating func visit(_ proto: BytecodeChunk.Prototype, environmentUpvalues env: Set<Int>, path: [Int]) {
        let code = proto.code
        guard !code.isEmpty else { return }
        let width = max(proto.maxStackSize, 1) + 1
        var entry = [[Register]?](repeating: nil, count: code.count)
        entry[0] = [Register](repeating: .unknown, count: width)
        var work = [0]
        var queued = Set([0])
        while let pc = work.popLast() {
            queued.remove(pc)
            var regs = entry[pc]!
            transfer(proto, pc: pc, env: env, regs: &regs, path: path)
            for next in Self.successors(of: code, at: pc) where next >= 0 && next < code.count {
                if let old = entry[next] {
                    var merged = old
                    for r in merged.indices where merged[r] != regs[r] { merged[r] = .unknown }
                    if merged == old { continue }
                    entry[next] = merged
                } else {
                    entry[next] = regs
                }
                if queued.insert(next).inserted { work.append(next) }
            }
        }
    }

    /// Applies instruction `pc` to the register state, recording reads.
    private mutating func transfer(_ proto: BytecodeChunk.Prototype, pc: Int, env: Set<Int>,
                                   regs: inout [Register], path: [Int]) {
        let i = proto.code[pc]
        let op = Int(i & 0x7F)
        let a = Int((i >> 7) & 0xFF)
        let k = (i >> 15) & 1 == 1
        let b = Int((i >> 16) & 0xFF)
        let c = Int(i >> 24)
        let bx = Int(i >> 15)
        func constant(_ index: Int) -> String? {
            index >= 0 && index < proto.stringConstants.count ? proto.stringConstants[index] : nil
        }
        func register(_ r: Int) -> Register { r < regs.count ? regs[r] : .unknown }
        func set(_ r: Int, _ value: Register) { if r < regs.count { regs[r] = value } }
        func clear(from r: Int) { for x in r..<regs.count { regs[x] = .unknown } }

        switch op {
        case Op.move:
            set(a, register(b))
        case Op.loadk:
            set(a, constant(bx).map(Register.string) ?? .unknown)
        case Op.loadkx:
            let ax = pc + 1 < proto.code.count ? Int(proto.code[pc + 1] >> 7) : -1
            set(a, constant(ax).map(Register.string) ?? .unknown)
        case Op.getupval:
            set(a, env.contains(b) ? .environment : .unknown)
        case Op.gettabup:
            set(a, env.contains(b) ? environmentRead(constant(c)) : .unknown)
        case Op.getfield:
            set(a, register(b) == .environment ? environmentRead(constant(c)) : .unknown)
        case Op.gettable:
            if register(b) == .environment {
                if case .string(let key) = register(c) { set(a, environmentRead(key)) } else { set(a, environmentRead(nil)) }
            } else {
                set(a, .unknown)
            }
        case Op.geti:
            if register(b) == .environment { _ = environmentRead(nil) }
            set(a, .unknown)
        case Op.self_:
            let object = register(b)
            if object == .environment {
                if k { _ = environmentRead(constant(c)) } else if case .string(let key) = register(c) {
                    _ = environmentRead(key)
                } else {
                    _ = environmentRead(nil)
                }
            }
            set(a, .unknown)
            set(a + 1, object)
        case Op.closure:
            if bx < proto.prototypes.count {
                let child = proto.prototypes[bx]
                var childEnv: [Int] = []
                for (j, up) in child.upvalues.enumerated() {
                    let isEnv = up.inStack ? register(up.index) == .environment : env.contains(up.index)
                    if isEnv { childEnv.append(j) }
                }
                // Each (nested function, environment upvalues) once, however often the loop revisits it.
                if visitedClosures.insert(path + [bx, -1] + childEnv).inserted {
                    visit(child, environmentUpvalues: Set(childEnv), path: path + [bx])
                }
            }
            set(a, .unknown)
        case Op.loadnil, Op.call, Op.tailcall, Op.tforcall, Op.vararg, Op.concat,
             Op.forloop, Op.forprep, Op.tforprep, Op.tforloop:
            clear(from: a)
        case Op.settabup, Op.settable, Op.seti, Op.setfield, Op.setupval,
             Op.mmbin, Op.mmbini, Op.mmbink, Op.close, Op.tbc, Op.jmp,
             Op.eq, Op.lt, Op.le, Op.eqk, Op.eqi, Op.lti, Op.lei, Op.gti, Op.gei,
             Op.test, Op.return_, Op.return0, Op.return1, Op.setlist, Op.extraarg:
            break  // these do not write register A
        default:
            set(a, .unknown)
        }
    }

    /// Where control can go after instruction `pc` (lvm.c, Lua 5.4.4).
    private static func successors(of code: [UInt32], at pc: Int) -> [Int] {
        let i = code[pc]
        let bx = Int(i >> 15)
        switch Int(i & 0x7F) {
        case Op.jmp:
            let sJ = Int((i >> 7) & 0x1FF_FFFF) - 0xFF_FFFF
            return [pc + 1 + sJ]
        case Op.eq, Op.lt, Op.le, Op.eqk, Op.eqi, Op.lti, Op.lei, Op.gti, Op.gei, Op.test, Op.testset:
            return [pc + 1, pc + 2]  // the jump that follows, or skip it
        case Op.lfalseskip, Op.loadkx:
            return [pc + 2]
        case Op.forprep:
            return [pc + 1, pc + 2 + bx]
        case Op.forloop, Op.tforloop:
            return [pc + 1, pc + 1 - bx]
        case Op.tforprep:
            return [pc + 1 + bx]
        case Op.return_, Op.return0, Op.return1, Op.tailcall:
            return []
        default:
            return [pc + 1]
        }
    }

    /// Lua 5.4 opcode numbers (lopcodes.h).
    private enum Op {
        static let move = 0, loadk = 3, loadkx = 4, lfalseskip = 6, loadnil = 8, getupval = 9, setupval = 10
        static let gettabup = 11, gettable = 12, geti = 13, getfield = 14, settabup = 15, settable = 16
        static let seti = 17, setfield = 18, self_ = 20, mmbin = 46, mmbini = 47, mmbink = 48
        static let concat = 53, close = 54, tbc = 55, jmp = 56, eq = 57, lt = 58, le = 59
        static let eqk = 60, eqi = 61, lti = 62, lei = 63, gti = 64, gei = 65, test = 66, testset = 67
        static let call = 68, tailcall = 69, return_ = 70, return0 = 71, return1 = 72
        static let forloop = 73, forprep = 74, tforprep = 75, tforcall = 76, tforloop = 77
        static let setlist = 78, closure = 79, vararg = 80, extraarg = 82
    }
}
