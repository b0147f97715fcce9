import Foundation
import RayCore
import Synchronization
import LuaCodec
import LuaKit
import Testing
@testable import RayLua

/// Work another process placed here (`Runtime.runForPeer`), with bad input.
@Suite("Work placed by a peer")
struct RunForPeerTests {
    /// An actor's creation sent as a plain task is refused with an error in
    /// its return, and its argument references are given back.
    @Test func anActorCreationSentAsATaskIsRefused() throws {
        var settings = RuntimeSettings()
        settings.numCPUs = 1
        let runtime = try Runtime(settings: settings)
        defer { runtime.shutdown() }
        let argument = runtime.objects.put(StoredObject(bytes: [0]))
        let returned = ObjectID.next()
        let task = TaskSpec(id: TaskID.next(), name: "Counter.init", kind: .actorCreation(ActorID.next(), classCode: []),
                            arguments: [], argumentRefs: [argument], topLevelRefs: [], returnIDs: [returned], cpus: 1)
        let results = Locked<[(ObjectID, StoredObject)]?>(nil)
        runtime.runForPeer(task) { done in results.withLock { $0 = done } }
        let (id, object) = try #require(results.withLock { $0 }?.first, "done was not called at once")
        #expect(id == returned && object.isError)
        #expect(runtime.objects.contains(argument), "the submitter's own reference remains")
        runtime.objects.removeReference(argument)
        #expect(!runtime.objects.contains(argument), "runForPeer gave back the reference it took")
    }
}

extension RunForPeerTests {
    /// A peer's task naming an ObjectRef argument at a position the task
    /// does not have (0, past its arguments, near Int32.max) fails with a
    /// SerializationError in its return; the worker lives on.
    @Test(arguments: [0, 3, Int(Int32.max) - 1, Int.max])
    func anArgumentPositionOutsideTheArgumentsIsRefused(position: Int) throws {
        var settings = RuntimeSettings()
        settings.numCPUs = 1
        let runtime = try Runtime(settings: settings)
        defer { runtime.shutdown() }
        let lua = LuaState()
        let codec = try LuaCodec(state: lua)
        _ = try lua.run("return function(a, b) return 7 end, 1, 2")
        let function = UniqueID.next()
        runtime.setFunctionCode(function, try codec.encode(valueAt: 1))
        let arguments = try codec.encode(valuesAt: 2, count: 2)
        let argument = runtime.objects.put(StoredObject(bytes: arguments))
        let returned = ObjectID.next()
        let task = TaskSpec(id: TaskID.next(), name: "f", kind: .function(function), arguments: arguments,
                            argumentRefs: [argument], topLevelRefs: [(position, argument)], returnIDs: [returned], cpus: 1)
        let finished = DispatchSemaphore(value: 0)
        let results = Locked<[(ObjectID, StoredObject)]>([])
        runtime.runForPeer(task) { done in
            results.withLock { $0 = done }
            finished.signal()
        }
        #expect(finished.wait(timeout: .now() + 30) == .success, "the task never ended")
        let error = try #require(results.withLock { $0 }.first?.1.rayError)
        #expect(error.code == .serialization && error.message.contains("argument \(position)"), "\(error)")
    }
}
