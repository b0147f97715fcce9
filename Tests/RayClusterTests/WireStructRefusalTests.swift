import NIOCore
import RayCore
import RayLua
import XCTest
@testable import RayCluster

/// Bytes a hostile or broken peer could send in place of a structure:
/// each is refused as malformed, none traps.
final class WireStructRefusalTests: XCTestCase {
    typealias F = WireFixtures

    func testUnknownStrategiesAreRefused() {
        for bytes: [UInt8] in [[3], [0x7f], [0x80, 0x01], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]] {
            assertMalformed("unknown scheduling strategy") { () throws(WireError) in _ = try decodeWire(bytes, as: SchedulingStrategy.self) }
        }
        assertMalformed("number too long") { () throws(WireError) in
            _ = try decodeWire([UInt8](repeating: 0x80, count: 11) + [0], as: SchedulingStrategy.self)
        }
        // A node id longer than the bytes left, or none at all.
        assertMalformed("runs past the payload") { () throws(WireError) in _ = try decodeWire([2, 5, 0x61], as: SchedulingStrategy.self) }
        assertMalformed("truncated") { () throws(WireError) in _ = try decodeWire([2], as: SchedulingStrategy.self) }
        assertMalformed("truncated flag") { () throws(WireError) in _ = try decodeWire([2, 1, 0x61], as: SchedulingStrategy.self) }
        assertMalformed("truncated") { () throws(WireError) in _ = try decodeWire([], as: SchedulingStrategy.self) }
    }

    /// Every prefix of every strategy, alone and at the end of a task that
    /// is cut there, throws.
    func testTruncatedStrategiesThrow() {
        for strategy in F.strategies {
            var task = F.task()
            task.strategy = strategy
            let bytes = wireBytes(strategy), taskBytes = wireBytes(task)
            let start = Self.strategyOffset(in: task)
            XCTAssertEqual(Array(taskBytes[start..<(start + bytes.count)]), bytes, "the strategy sits after the resources")
            for cut in 0..<bytes.count {
                var r = WireReader(Array(bytes.prefix(cut)))
                XCTAssertThrowsError(try r.read(SchedulingStrategy.self))
                var t = WireReader(Array(taskBytes.prefix(start + cut)))
                XCTAssertThrowsError(try t.read(TaskSpec.self))
            }
        }
    }

    /// An unknown strategy inside a task refuses the task.
    func testATaskWithAnUnknownStrategyIsRefused() {
        var bytes = wireBytes(F.task())
        bytes[Self.strategyOffset(in: F.task())] = 3
        assertMalformed("unknown scheduling strategy 3") { () throws(WireError) in _ = try decodeWire(bytes, as: TaskSpec.self) }
    }

    /// Random bytes, and a valid task with one byte changed: refused, or
    /// decoded to something that writes and reads back the same (compared
    /// as bytes: a changed byte can make an amount NaN).
    func testGarbageNeverTraps() {
        var random = SplitMix64(seed: 0x5eed)
        for _ in 0..<5_000 {
            let bytes = (0..<Int(random.next() % 24)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var shaped = bytes
            if !shaped.isEmpty { shaped[0] %= 4 }
            for input in [bytes, shaped] {
                if let strategy = try? decodeWire(input, as: SchedulingStrategy.self) { assertRoundTrips(strategy) }
            }
        }
        let task = wireBytes(F.task())
        for index in task.indices {
            for byte: UInt8 in [0, 1, 3, 0x7f, 0x80, 0xff, task[index] ^ 0x01] {
                var bytes = task
                bytes[index] = byte
                if let decoded = try? decodeWire(bytes, as: TaskSpec.self) {
                    XCTAssertEqual(try wireBytes(decodeWire(wireBytes(decoded), as: TaskSpec.self)), wireBytes(decoded))
                }
            }
        }
    }

    func testTopLevelRefsMustBeInArgumentOrder() {
        for positions in [[0], [2, 2], [3, 1]] {
            let task = F.task(topLevelRefs: positions.map { ($0, F.id(9, 1)) })
            assertMalformed("top-level ref at argument") { () throws(WireError) in _ = try decodeWire(wireBytes(task), as: TaskSpec.self) }
        }
    }

    func testTasksNeedAFiniteNumberOfCPUs() {
        for cpus in [-1, .nan, .infinity] {
            assertMalformed("CPUs") { () throws(WireError) in _ = try decodeWire(wireBytes(F.task(cpus: cpus)), as: TaskSpec.self) }
        }
    }

    func testActorOptionsOutOfRangeAreRefused() {
        var options = F.options
        options.maxConcurrency = 0
        assertMalformed("max concurrency 0") { () throws(WireError) in _ = try decodeWire(wireBytes(options), as: ActorOptions.self) }
        for cpus in [-0.5, .nan, .infinity] {
            options = F.options
            options.lifetimeCPUs = cpus
            assertMalformed("CPUs") { () throws(WireError) in _ = try decodeWire(wireBytes(options), as: ActorOptions.self) }
        }
    }

    /// A method call (or a plain task) is not an actor's creation: the
    /// receiver would register an actor that never runs its `init`.
    func testAnActorWhoseCreationIsNotACreationIsRefused() {
        for kind: TaskSpec.Kind in [.actorMethod(F.id(6, 6), method: "incr"), .function(F.id(5, 5))] {
            var actor = F.actor
            actor.creation = F.task(kind: kind)
            assertMalformed("not an actor creation") { () throws(WireError) in _ = try decodeWire(wireBytes(actor), as: ActorCreation.self) }
        }
    }

    func testUnknownRolesAreRefused() {
        var bytes = wireBytes(F.hello)
        let role = 1 + F.hello.token.utf8.count
        for value: UInt8 in [0, 4, 0x7f] {
            bytes[role] = value
            assertMalformed("unknown role") { () throws(WireError) in _ = try decodeWire(bytes, as: Message.Hello.self) }
        }
    }

    /// `finished` carries whole objects; a piece of one there is malformed.
    func testFinishedRefusesAPieceOfAnObject() {
        let frame = PeerMessage.finished(F.id(7, 8), results: [F.wholePiece, F.piece]).frame
        assertMalformed("not a whole object") { () throws(WireError) in _ = try PeerMessage(frame) }
    }

    /// A large piece's header is read from the connection's buffer however
    /// long it is (many contained refs), and a cut one is refused.
    func testABulkPieceWithALongHeaderIsRead() throws {
        let data = [UInt8](repeating: 7, count: 100)
        let piece = PeerMessage.ObjectPiece(id: F.id(3, 3), isError: true, contained: (0..<300).map { F.id(4, $0) },
                                            total: 1_000, offset: 900, data: ByteBuffer(bytes: data))
        let payload = wireBytes(piece)
        var buffer = ByteBuffer(bytes: payload)
        XCTAssertEqual(try PeerMessage.ObjectPiece(reading: &buffer), piece)
        for cut in stride(from: 0, to: payload.count, by: 7) {
            var cutBuffer = ByteBuffer(bytes: payload.prefix(cut))
            XCTAssertThrowsError(try PeerMessage.ObjectPiece(reading: &cutBuffer))
        }
    }

    /// Where a task's strategy starts in its bytes: after everything up to its resources.
    static func strategyOffset(in task: TaskSpec) -> Int {
        var plain = task, spread = task
        plain.strategy = .default
        spread.strategy = .spread
        let a = wireBytes(plain), b = wireBytes(spread)
        return a.indices.first { a[$0] != b[$0] }!
    }
}

/// A small deterministic generator for the garbage tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
