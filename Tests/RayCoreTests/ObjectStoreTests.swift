import Synchronization
import Testing
@testable import RayCore

@Suite("Object store: readiness and reference counting")
struct ObjectStoreTests {
    func object(_ byte: UInt8, contains: [ObjectID] = []) -> StoredObject {
        StoredObject(bytes: [byte], contained: contains)
    }

    @Test func idsAreUniqueAndRoundTripAsHexAndBytes() {
        let a = ObjectID.next(), b = ObjectID.next()
        #expect(a != b)
        #expect(a.hex.count == 32)
        #expect(ObjectID(hex: a.hex) == a)
        #expect(a.bytes.withUnsafeBytes { ObjectID(bytes: $0) } == a)
        #expect(ObjectID(hex: "xyz") == nil)
        let id = ObjectID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210)
        #expect(id.hex == "0123456789abcdeffedcba9876543210")
        #expect(ObjectID(hex: "0123456789ABCDEFFEDCBA9876543210") == id)
        #expect(ObjectID(hex: "0123456789abcdeffedcba987654321") == nil)     // 31 digits
        #expect(ObjectID(hex: "0123456789abcdeffedcba98765432100") == nil)   // 33
        #expect(ObjectID(hex: "0123456789abcdeffedcba987654321g") == nil)
        #expect(ObjectID(hex: "+123456789abcdeffedcba9876543210") == nil)
        #expect(Set([id, ObjectID(high: id.high, low: id.low), a]).count == 2)
    }

    @Test func putThenGet() {
        let store = ObjectStore()
        let id = store.put(object(7))
        #expect(store.object(id)?.bytes.array == [7])
        #expect(store.wait(id, timeout: 1)?.bytes.array == [7])
    }

    @Test func waitersRunWhenTheObjectArrives() {
        let store = ObjectStore()
        let id = ObjectID.next()
        store.expect(id)
        let seen = Mutex<[UInt8]>([])
        #expect(store.whenReady(id) { o in seen.withLock { $0 += o.bytes.array } })
        #expect(seen.withLock { $0 }.isEmpty)
        store.fulfill(id, with: object(3))
        #expect(seen.withLock { $0 } == [3])
        store.whenReady(id) { o in seen.withLock { $0 += o.bytes.array } }
        #expect(seen.withLock { $0 } == [3, 3], "a ready object calls back at once")
    }

    @Test func waitTimesOut() {
        let store = ObjectStore()
        let id = ObjectID.next()
        store.expect(id)
        #expect(store.wait(id, timeout: 0.01) == nil)
        #expect(store.wait(ObjectID.next(), timeout: 0.01) == nil, "unknown ids do not block")
    }

    @Test func objectsAreFreedWithTheirLastReference() {
        let store = ObjectStore()
        let id = store.put(object(1))
        store.addReference(id)
        store.removeReference(id)
        #expect(store.contains(id))
        store.removeReference(id)
        #expect(!store.contains(id))
        #expect(store.count == 0)
    }

    @Test func containedObjectsLiveAsLongAsTheirContainer() {
        let store = ObjectStore()
        let inner = store.put(object(1))
        store.addReference(inner)             // held by the container
        let outer = store.put(object(2, contains: [inner]))
        store.removeReference(inner)          // the driver's ref goes away
        #expect(store.contains(inner), "still referenced from inside outer")
        store.removeReference(outer)
        #expect(!store.contains(inner) && !store.contains(outer))
    }

    @Test func aResultNobodyWantsIsDroppedOnArrival() {
        let store = ObjectStore()
        let inner = store.put(object(1))
        let id = ObjectID.next()
        store.expect(id)
        store.removeReference(id)             // the ObjectRef was collected before the task finished
        #expect(!store.contains(id))
        store.fulfill(id, with: object(2, contains: [inner]))
        #expect(!store.contains(id))
        #expect(!store.contains(inner), "what the dropped result contained is released")
    }
}

@Suite("ObjectBytes")
struct ObjectBytesTests {
    final class Owner: @unchecked Sendable {  // immutable after init
        let pointer: UnsafeMutableRawBufferPointer
        init(_ bytes: [UInt8]) {
            pointer = .allocate(byteCount: bytes.count, alignment: 8)
            bytes.withUnsafeBytes { pointer.copyMemory(from: $0) }
        }
        deinit { pointer.deallocate() }
    }

    @Test func ownedMemoryReadsLikeAnArray() {
        let owner = Owner([1, 2, 3, 4])
        let bytes = ObjectBytes(UnsafeRawBufferPointer(owner.pointer), owner: owner)
        #expect(bytes.count == 4)
        #expect(bytes.array == [1, 2, 3, 4])
        #expect(bytes.withUnsafeBytes { $0.reduce(0, { $0 + Int($1) }) } == 10)
        #expect(ObjectBytes([9, 8]).array == [9, 8])
        #expect(StoredObject(bytes: bytes).bytes.count == 4)
    }
}
