import RayCore
import RayLua
import Testing
@testable import RayCluster

@Suite("Placement policies over a cluster's nodes")
struct PlacementTests {
    /// Three nodes of 2 CPUs, "b" with a GPU; a, b, c by owner 1, 2, 3.
    static let nodes: [Placement.Node] = [
        .init(nodeID: "a", owner: 1, alive: true, total: ["CPU": 2]),
        .init(nodeID: "b", owner: 2, alive: true, total: ["CPU": 2, "GPU": 1]),
        .init(nodeID: "c", owner: 3, alive: true, total: ["CPU": 2]),
    ]

    static func choose(_ strategy: SchedulingStrategy = .default, cpus: Double = 1, resources: [String: Double] = [:],
                       nodes: [Placement.Node] = nodes, used: [UInt64: Double] = [:], local: UInt64? = 1,
                       holder: UInt64? = nil, counter: inout Int) -> Placement.Decision {
        Placement.choose(cpus: cpus, resources: resources, strategy: strategy, nodes: nodes,
                         used: { used[$0.owner] ?? 0 }, local: local, largeArgumentsOn: holder, spreadCounter: &counter)
    }

    @Test func defaultStaysLocalUntilHalfBusyThenTakesTheLeastUsed() {
        var counter = 0
        #expect(Self.choose(counter: &counter) == .node(1))
        #expect(Self.choose(used: [1: 0.5], counter: &counter) == .node(1), "below half: still local")
        #expect(Self.choose(used: [1: 1, 2: 1.5, 3: 0.5], counter: &counter) == .node(3), "half busy: least used")
        #expect(Self.choose(used: [1: 1, 2: 1, 3: 1], counter: &counter) == .node(1), "a tie goes to the local node")
        #expect(Self.choose(used: [1: 2, 2: 2, 3: 2], counter: &counter) == .node(1), "all full: it waits locally")
        #expect(Self.choose(local: nil, counter: &counter) == .node(1), "no local node: the least used, first by id")
    }

    @Test func defaultPrefersTheNodeHoldingLargeArgumentsWhileItIsNotFull() {
        var counter = 0
        #expect(Self.choose(used: [1: 1], holder: 2, counter: &counter) == .node(2))
        #expect(Self.choose(used: [1: 0], holder: 2, counter: &counter) == .node(1), "an idle local node comes first")
        #expect(Self.choose(used: [1: 1, 2: 2], holder: 2, counter: &counter) == .node(3), "a full holder is passed over")
    }

    @Test func spreadGoesRoundRobinOverFeasibleNodes() {
        var counter = 0
        let picks = (0..<6).map { _ in Self.choose(.spread, counter: &counter) }
        #expect(picks == [.node(1), .node(2), .node(3), .node(1), .node(2), .node(3)])
        let gpu = (0..<3).map { _ in Self.choose(.spread, resources: ["GPU": 1], counter: &counter) }
        #expect(gpu == [.node(2), .node(2), .node(2)], "only feasible nodes take part")
    }

    @Test func nodeAffinityIsHardOrSoft() {
        var counter = 0
        #expect(Self.choose(.node("c", soft: false), used: [3: 2], counter: &counter) == .node(3), "a busy node is waited for")
        #expect(Self.choose(.node("zz", soft: false), counter: &counter) == .infeasible(.affinity("zz", known: false, alive: false)))
        var dead = Self.nodes
        dead[2].alive = false
        #expect(Self.choose(.node("c", soft: false), nodes: dead, counter: &counter) == .infeasible(.affinity("c", known: true, alive: false)))
        #expect(Self.choose(.node("c", soft: true), nodes: dead, counter: &counter) == .node(1), "soft: falls back to DEFAULT")
        #expect(Self.choose(.node("a", soft: false), resources: ["GPU": 1], counter: &counter)
                == .infeasible(.affinity("a", known: true, alive: true)), "the node lacks the resources")
    }

    @Test func workNoNodeCouldEverRunIsInfeasibleAtOnce() {
        var counter = 0
        #expect(Self.choose(cpus: 3, counter: &counter) == .infeasible(.resource("CPU", amount: 3, localHas: 2, mostHas: 2)))
        #expect(Self.choose(resources: ["GPU": 2], counter: &counter)
                == .infeasible(.resource("GPU", amount: 2, localHas: 0, mostHas: 1)))
        #expect(Self.choose(resources: ["TPU": 1], counter: &counter)
                == .infeasible(.resource("TPU", amount: 1, localHas: 0, mostHas: 0)))
        var dead = Self.nodes
        dead[1].alive = false
        #expect(Self.choose(resources: ["GPU": 1], nodes: dead, counter: &counter)
                == .infeasible(.resource("GPU", amount: 1, localHas: 0, mostHas: 0)), "a dead node's resources do not count")
    }
}
