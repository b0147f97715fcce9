import Testing
@testable import RayCore

@Suite("IDs: kinds kept apart, returns derived from their task")
struct IDTests {
    @Test func aReturnNamesTheTaskThatMakesItAndItsIndex() {
        let task = TaskID.next()
        for index in [1, 2, 255, TaskID.maxReturns] {
            let object = ObjectID.returned(by: task, index: index)
            #expect(object.task == task)
            #expect(object.returnIndex == index)
            #expect(object.isLocal)
        }
        #expect(ObjectID.returned(by: task, index: 1) != ObjectID.returned(by: task, index: 2))
        #expect(ObjectID.returned(by: task, index: 1) != ObjectID.returned(by: TaskID.next(), index: 1))
    }

    @Test func objectsNotMadeByATaskNameNone() {
        let put = ObjectID.next()
        #expect(put.task == nil && put.returnIndex == nil)
    }

    /// Derived ids set a flag bit no other id has, so a return never
    /// collides with a put object or any other id made here.
    @Test func derivedIdsCannotCollideWithOthers() {
        let plain = (0..<1000).map { _ in ObjectID.next() }
        let task = TaskID.next()
        let returns = (1...1000).map { ObjectID.returned(by: task, index: $0) }
        #expect(Set(plain).isDisjoint(with: returns))
        #expect(plain.allSatisfy { $0.low >> 63 == 0 })
        #expect(returns.allSatisfy { $0.low >> 63 == 1 })
    }

    @Test func idsOfEveryKindKeepTheirTextAndBytes() {
        let task = TaskID.next()
        #expect(TaskID(hex: task.hex) == task)
        #expect(task.bytes.withUnsafeBytes { TaskID(bytes: $0) } == task)
        #expect(ActorID(hex: "zz") == nil)
        let raw = UniqueID(high: 1, low: 2)
        #expect(ActorID(raw).raw == raw && ActorID(raw).hex == raw.hex)
        #expect(ObjectID(raw).hashValue == ObjectID(raw).hashValue)
    }
}
