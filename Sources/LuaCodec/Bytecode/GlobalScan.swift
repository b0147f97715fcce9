/// Finds the globals a function reads, by walking its Lua 5.4 bytecode.
///
/// A global read is a table access on an *environment*: an upvalue whose
/// value is the global table (`_ENV`, or a local alias such as `local G = _G`
/// captured as an upvalue), or a register known to hold one. Accesses are
/// `GETTABUP env "name"`, or, in functions with more than 255 constants,
/// `GETUPVAL env` + `LOADK "name"` + `GETTABLE`. Registers are tracked along
/// the instruction sequence (not across jumps: the compiler emits these
/// sequences straight-line). Reading `_G` from an environment yields an
/// environment again, so `_G.helper` and `local G = _G; G.helper` are seen.
///
/// A read with a key that is not a known string (`_G[expr]`) sets `dynamic`:
/// the caller cannot know which globals to ship.
struct GlobalScan {
    /// Names read, in first-seen order, without duplicates.
    private(set) var reads: [String] = []
    private(set) var dynamic = false
    private var seen: Set<String> = []

    /// Scans `proto`, whose upvalue i (0-based) is an environment when `isEnvironment(i)`.
    init(_ proto: BytecodeChunk.Prototype, isEnvironment: (Int) -> Bool) {
        let env = Set(proto.upvalues.indices.filter(isEnvironment))
        visit(proto, environmentUpvalues: env)
    }

    private enum Register: Equatable {
        case unknown
        case environment
        case string(String)
    }

    private mutating func read(_ name: String) {
        if !name.isEmpty && seen.insert(name).inserted { reads.append(name) }
    }

    private mutating func visit(_ proto: BytecodeChunk.Prototype, environmentUpvalues env: Set<Int>) {
        var regs = [Register](repeating: .unknown, count: 256)
        func constant(_ k: Int) -> String? {
            k < proto.stringConstants.count ? proto.stringConstants[k] : nil
        }
        func clear(from a: Int) {
            for r in a..<256 { regs[r] = .unknown }
        }
        /// A read of `key` from an environment; returns what the result register holds.
        func envRead(_ key: String?, _ scan: inout GlobalScan) -> Register {
            guard let key else { scan.dynamic = true; return .unknown }
            scan.read(key)
            return key == "_G" ? .environment : .unknown
        }

        var pc = 0
        while pc < proto.code.count {
            let i = proto.code[pc]
            let op = Int(i & 0x7F)
            let a = Int((i >> 7) & 0xFF)
            let k = (i >> 15) & 1 == 1
            let b = Int((i >> 16) & 0xFF)
            let c = Int(i >> 24)
            let bx = Int(i >> 15)
            pc += 1
            switch op {
            case Op.move:
                regs[a] = regs[b]
            case Op.loadk:
                regs[a] = constant(bx).map(Register.string) ?? .unknown
            case Op.loadkx:
                let ax = pc < proto.code.count ? Int(proto.code[pc] >> 7) : -1
                regs[a] = constant(ax).map(Register.string) ?? .unknown
            case Op.getupval:
                regs[a] = env.contains(b) ? .environment : .unknown
            case Op.gettabup:
                regs[a] = env.contains(b) ? envRead(constant(c), &self) : .unknown
            case Op.getfield:
                regs[a] = regs[b] == .environment ? envRead(constant(c), &self) : .unknown
            case Op.gettable:
                if regs[b] == .environment {
                    if case .string(let key) = regs[c] { regs[a] = envRead(key, &self) } else { regs[a] = envRead(nil, &self) }
                } else {
                    regs[a] = .unknown
                }
            case Op.self_:
                let object = regs[b]
                if object == .environment {
                    if k { _ = envRead(constant(c), &self) } else if case .string(let key) = regs[c] {
                        _ = envRead(key, &self)
                    } else {
                        _ = envRead(nil, &self)
                    }
                }
                regs[a] = .unknown
                if a + 1 < 256 { regs[a + 1] = object }
            case Op.closure:
                if bx < proto.prototypes.count {
                    let child = proto.prototypes[bx]
                    var childEnv: Set<Int> = []
                    for (j, up) in child.upvalues.enumerated() {
                        let isEnv = up.inStack ? (up.index < 256 && regs[up.index] == .environment) : env.contains(up.index)
                        if isEnv { childEnv.insert(j) }
                    }
                    visit(child, environmentUpvalues: childEnv)
                }
                regs[a] = .unknown
            case Op.loadnil, Op.call, Op.tailcall, Op.tforcall, Op.vararg, Op.concat,
                 Op.forloop, Op.forprep, Op.tforprep, Op.tforloop:
                clear(from: a)
            case Op.settabup, Op.settable, Op.seti, Op.setfield, Op.setupval,
                 Op.mmbin, Op.mmbini, Op.mmbink, Op.close, Op.tbc, Op.jmp,
                 Op.eq, Op.lt, Op.le, Op.eqk, Op.eqi, Op.lti, Op.lei, Op.gti, Op.gei,
                 Op.test, Op.return_, Op.return0, Op.return1, Op.setlist, Op.extraarg:
                break  // these do not write register A
            default:
                regs[a] = .unknown
            }
        }
    }

    /// Lua 5.4 opcode numbers (lopcodes.h).
    private enum Op {
        static let move = 0, loadk = 3, loadkx = 4, loadnil = 8, getupval = 9, setupval = 10
        static let gettabup = 11, gettable = 12, getfield = 14, settabup = 15, settable = 16
        static let seti = 17, setfield = 18, self_ = 20, mmbin = 46, mmbini = 47, mmbink = 48
        static let concat = 53, close = 54, tbc = 55, jmp = 56, eq = 57, lt = 58, le = 59
        static let eqk = 60, eqi = 61, lti = 62, lei = 63, gti = 64, gei = 65, test = 66
        static let call = 68, tailcall = 69, return_ = 70, return0 = 71, return1 = 72
        static let forloop = 73, forprep = 74, tforprep = 75, tforcall = 76, tforloop = 77
        static let setlist = 78, closure = 79, vararg = 80, extraarg = 82
    }
}
