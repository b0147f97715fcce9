import RayCore
import XCTest

/// TaskSpec's == is written by hand (its top-level refs are tuples): every
/// stored field must count in it, or the wire round trips could pass with
/// a field lost.
final class TaskSpecEqualityTests: XCTestCase {
    typealias F = WireFixtures

    func testEveryFieldCountsForEquality() {
        func with(_ change: (inout TaskSpec) -> Void) -> TaskSpec {
            var task = F.task()
            change(&task)
            return task
        }
        let variants: [String: TaskSpec] = [
            "id": F.task(id: F.id(7, 9)),
            "name": F.task(name: "triple"),
            "kind": F.task(kind: .function(F.id(5, 6))),
            "arguments": F.task(arguments: [1, 2]),
            "argumentRefs": F.task(argumentRefs: [F.id(9, 1)]),
            "topLevelRefs": F.task(topLevelRefs: [(3, F.id(9, 1)), (5, F.id(9, 2))]),
            "returnIDs": F.task(returnIDs: [F.id(1, 1)]),
            "cpus": F.task(cpus: 1),
            "resources": with { $0.resources["GPU"] = 2 },
            "strategy": with { $0.strategy = .node("00ab5eed", soft: false) },
            "maxRetries": with { $0.maxRetries = 3 },
            "retryExceptions": with { $0.retryExceptions = false },
            "attempt": with { $0.attempt = 1 },
            "environment": with { $0.environment.workingDirectory = nil },
            "namespace": with { $0.namespace = "other" },
        ]
        let fields = Mirror(reflecting: F.task()).children.compactMap(\.label)
        XCTAssertEqual(Set(variants.keys), Set(fields), "each stored field of TaskSpec needs a variant here")
        XCTAssertEqual(F.task(), F.task())
        for (field, variant) in variants.sorted(by: { $0.key < $1.key }) {
            XCTAssertNotEqual(variant, F.task(), "TaskSpec's == ignores \(field)")
        }
    }
}
