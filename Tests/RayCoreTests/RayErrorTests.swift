import RayCore
import XCTest

final class RayErrorTests: XCTestCase {
    func testEveryCodeRoundTripsThroughAStoredObject() {
        for code in RayError.Code.allCases {
            let error = RayError(code, "message of \(code.name) é", task: "t", traceback: "stack\n  line", cause: "why")
            let object = StoredObject(error: error)
            XCTAssertTrue(object.isError)
            XCTAssertEqual(object.rayError, error)
            XCTAssertEqual(RayError.Code(name: code.name), code)
        }
    }

    func testAbsentFieldsStayAbsent() {
        let error = RayError(.objectLost, "")
        XCTAssertEqual(StoredObject(error: error).rayError, error)
        XCTAssertNil(StoredObject(error: error).rayError?.task)
    }

    func testNamesAreTheContractsAndDistinct() {
        let names = RayError.Code.allCases.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(RayError.nodeDied(Self.task, "gone").code, .nodeDied)
        XCTAssertEqual(RayError.nodeDied(Self.task, "gone").message, "f: gone")
        XCTAssertNil(RayError.Code(name: "NoSuchError"))
    }

    /// A value a task raised is a codec message ("RV..."), not a RayError.
    func testRaisedValuesAreNotRayErrors() {
        let raised = StoredObject(bytes: [0x52, 0x56, 1, 1, 5, 1, 0x41], isError: true)
        XCTAssertNil(raised.rayError)
        XCTAssertNil(StoredObject(bytes: RayError(.taskError, "x").encoded, isError: false).rayError)
    }

    /// Every truncation and a few corruptions read as nil, never trap.
    func testMalformedBytesAreRefused() {
        let bytes = RayError(.actorDied, "died", task: "a", traceback: nil, cause: "init failed").encoded
        for length in 0..<bytes.count {
            XCTAssertNil(StoredObject(bytes: Array(bytes[..<length]), isError: true).rayError, "prefix of \(length) bytes")
        }
        var badCode = bytes
        badCode[3] = 200
        XCTAssertNil(StoredObject(bytes: badCode, isError: true).rayError)
        XCTAssertNil(StoredObject(bytes: bytes + [0], isError: true).rayError, "trailing bytes")
        var badPresence = bytes
        badPresence[4] = 7
        XCTAssertNil(StoredObject(bytes: badPresence, isError: true).rayError)
        let hugeLength: [UInt8] = [0x52, 0x45, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        XCTAssertNil(StoredObject(bytes: hugeLength, isError: true).rayError)
    }

    static let task = TaskSpec(id: .next(), name: "f", kind: .function(.next()), arguments: [], argumentRefs: [],
                               topLevelRefs: [], returnIDs: [.next()], cpus: 1)
}
