import RayCore

/// A task's `scheduling_strategy`: varint 0 default, 1 spread, 2 a node
/// (its hex id as a string, then soft as a bool).
extension SchedulingStrategy: WireCodable {
    func write(to w: inout WireWriter) {
        switch self {
        case .default:
            w.varint(0)
        case .spread:
            w.varint(1)
        case .node(let node, let soft):
            w.varint(2)
            w.string(node)
            w.bool(soft)
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        switch try r.varint() {
        case 0: self = .default
        case 1: self = .spread
        case 2: self = .node(try r.string(), soft: try r.bool())
        case let other: throw .malformed("unknown scheduling strategy \(other)")
        }
    }
}
