import Testing
@testable import RayCore

/// The owner's record of actors it created on other nodes: what a host's death means for each.
@Suite("Remote actor book: restarts after node deaths, one counter")
struct RemoteActorBookTests {
    static func actor(maxRestarts: Int) -> ActorCreation {
        var options = ActorOptions(namespace: "n")
        options.maxRestarts = maxRestarts
        let creation = TaskSpec(id: .next(), name: "A.init", kind: .actorCreation(.next(), classCode: []), arguments: [],
                                argumentRefs: [], topLevelRefs: [], returnIDs: [], cpus: 1)
        return ActorCreation(options: options, className: "A", methods: ["f"], creation: creation)
    }

    @Test func anActorThatMayNotRestartIsNotKept() {
        var book = RemoteActorBook()
        book.created(Self.actor(maxRestarts: 0), classRefs: [], host: 1)
        #expect(book.count == 0)
        #expect(book.hostDied(1, description: "n1", leaving: false).isEmpty)
    }

    @Test func eachDeathRestartsItElsewhereUntilItsBudgetIsSpent() {
        var book = RemoteActorBook()
        let actor = Self.actor(maxRestarts: 2)
        book.created(actor, classRefs: [.next()], host: 1)
        #expect(book.hostDied(2, description: "other", leaving: false).isEmpty, "only its own host counts")
        guard case .restart(let again, let refs) = book.hostDied(1, description: "n1", leaving: false).first else {
            Issue.record("not restarted"); return
        }
        #expect(again.restarts == 1 && refs.count == 1)
        #expect(again.creation.id != actor.creation.id, "a new incarnation has a new creation task")
        book.moved(actor.id, to: 3)
        book.callFinished(actor.id)  // it worked there: the death before does not count
        guard case .restart(let third, _) = book.hostDied(3, description: "n3", leaving: false).first else {
            Issue.record("not restarted"); return
        }
        #expect(third.restarts == 2)
        book.moved(actor.id, to: 4)
        book.callFinished(actor.id)
        guard case .notRestarted(let id, let reason) = book.hostDied(4, description: "n4", leaving: false).first else {
            Issue.record("restarted past max_restarts"); return
        }
        #expect(id == actor.id && reason.contains("max_restarts = 2"))
        #expect(book.count == 0)
    }

    @Test func twoDeathsWithNoCallFinishedInBetweenStopItWhateverItsBudget() {
        var book = RemoteActorBook()
        let actor = Self.actor(maxRestarts: -1)
        book.created(actor, classRefs: [], host: 1)
        _ = book.hostDied(1, description: "node one", leaving: false)
        book.moved(actor.id, to: 2)
        guard case .notRestarted(_, let reason) = book.hostDied(2, description: "node two", leaving: false).first else {
            Issue.record("restarted a crashing actor"); return
        }
        #expect(reason.contains("node one") && reason.contains("node two"))
    }

    @Test func leavingOrKillingForgetsIt() {
        var book = RemoteActorBook()
        let a = Self.actor(maxRestarts: 5), b = Self.actor(maxRestarts: 5)
        book.created(a, classRefs: [], host: 1)
        book.created(b, classRefs: [], host: 1)
        book.forget(b.id)
        #expect(book.hostDied(1, description: "n", leaving: true).isEmpty)
        #expect(book.count == 0)
    }

    /// A restart by `ray.kill` on the host counts against the same budget.
    @Test func restartsAtTheHostCountToo() {
        var book = RemoteActorBook()
        let actor = Self.actor(maxRestarts: 1)
        book.created(actor, classRefs: [], host: 1)
        book.restarted(actor.id, restarts: 1)
        book.restarted(actor.id, restarts: 0)  // an older report changes nothing
        #expect(book.restarts(of: actor.id) == 1)
        guard case .notRestarted(_, let reason) = book.hostDied(1, description: "n1", leaving: false).first else {
            Issue.record("restarted past max_restarts"); return
        }
        #expect(reason.contains("max_restarts = 1"))
    }
}
