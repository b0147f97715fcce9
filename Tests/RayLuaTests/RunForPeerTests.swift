import Foundation
import RayCore
import Synchronization
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
