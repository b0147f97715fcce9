import NIOCore
import RayCore
import RayLua
import XCTest
@testable import RayCluster

/// Each structure messages carry, written and read on its own with every
/// field set, compared field by field with the original (a field left off
/// the wire comes back with its default and fails here).
final class WireStructTests: XCTestCase {
    typealias F = WireFixtures

    func testATaskWithEveryFieldSetRoundTrips() {
        assertEveryField(of: F.task(), differsFrom: F.bareTask)
        assertEveryField(of: F.environment, differsFrom: TaskEnvironment())
        assertRoundTrips(F.task())
    }

    func testEveryKindWithEveryStrategyRoundTrips() {
        for kind in F.kinds {
            for strategy in F.strategies {
                var task = F.task(kind: kind)
                task.strategy = strategy
                assertRoundTrips(task)
            }
        }
    }

    func testEnvironmentsWithEitherBlobRoundTrip() {
        let blob = F.id(11, 12), directory = F.id(13, 14)
        for environment in [TaskEnvironment(), TaskEnvironment(blob: blob), TaskEnvironment(workingDirectory: directory),
                            TaskEnvironment(blob: blob, workingDirectory: directory)] {
            assertRoundTrips(environment)
        }
    }

    func testTasksAtTheirLimitsRoundTrip() {
        var task = F.task(topLevelRefs: [], cpus: 0)
        task.maxRetries = Int.min
        task.attempt = Int(Int32.max)
        assertRoundTrips(task)
        task.maxRetries = Int.max
        assertRoundTrips(task)
        assertRoundTrips(F.bareTask)
    }

    func testAnActorWithEveryOptionRoundTrips() {
        assertEveryField(of: F.options, differsFrom: ActorOptions(namespace: ""))
        assertEveryField(of: F.actor, differsFrom: F.bareActor)
        assertRoundTrips(F.options)
        assertRoundTrips(F.actor)
        var unnamed = F.options
        unnamed.name = nil
        assertRoundTrips(unnamed)
        var emptyName = F.options
        emptyName.name = ""
        assertRoundTrips(emptyName)  // a name, though empty: not the same as none
    }

    func testTheHandshakeRoundTrips() {
        assertEveryField(of: F.hello, differsFrom: F.bareHello)
        assertEveryField(of: F.welcome, differsFrom: F.bareWelcome)
        for role in [Message.Hello.Role.node, .driver, .command] {
            var hello = F.hello
            hello.role = role
            assertRoundTrips(hello)
        }
        assertRoundTrips(F.welcome)
    }

    func testNodeReportsRoundTrip() {
        assertEveryField(of: F.heartbeat, differsFrom: F.bareHeartbeat)
        assertEveryField(of: F.node, differsFrom: F.bareNode)
        assertEveryField(of: F.job, differsFrom: F.bareJob)
        assertRoundTrips(F.heartbeat)
        assertRoundTrips(F.node)
        assertRoundTrips(F.job)
    }

    func testAnActorRecordRoundTrips() {
        assertEveryField(of: F.record, differsFrom: F.bareRecord)
        assertRoundTrips(F.record)
    }

    func testAnObjectPieceRoundTrips() {
        assertEveryField(of: F.piece, differsFrom: F.barePiece)
        assertRoundTrips(F.piece)
        assertRoundTrips(F.wholePiece)
    }

    /// The messages that carry these structures carry them whole.
    func testMessagesCarryTheirStructuresWhole() throws {
        let peer: [PeerMessage] = [
            .submit(F.kinds.map { F.task(kind: $0) }),
            .createActor(F.actor, classRefs: [F.id(2, 2)]),
            .finished(F.id(7, 8), results: [F.wholePiece]),
            .object(F.piece),
        ]
        for message in peer { XCTAssertEqual(try PeerMessage(message.frame), message) }
        let head: [Message] = [
            .hello(F.hello), .welcome(F.welcome), .heartbeat(F.heartbeat), .status([F.node, F.bareNode], jobs: [F.job]),
            .registerActor(F.record), .actorFound(F.record),
        ]
        for message in head { XCTAssertEqual(try Message(message.frame), message) }
    }
}
