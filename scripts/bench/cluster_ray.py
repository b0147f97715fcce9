"""Ray's side of scripts/bench/cluster.lua: the same rows on a Ray cluster
of three nodes of 2 CPUs on this machine (ray.cluster_utils.Cluster: a
head and two more raylets), the driver attached to it. Prints
"name<TAB>value<TAB>unit" lines with cluster.lua's row names."""
import time

import ray
from ray.cluster_utils import Cluster
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def row(name, value, unit):
    print(f"{name}\t{value:.1f}\t{unit}", flush=True)


def main():
    cluster = Cluster()
    for _ in range(3):
        cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        here = ray.get_runtime_context().get_node_id()
        ids = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
        other = next(i for i in ids if i != here)

        @ray.remote
        def noop():
            pass

        pinned = noop.options(scheduling_strategy=NodeAffinitySchedulingStrategy(other, soft=False))
        for _ in range(500):
            ray.get(pinned.remote())
        n, t0 = 3000, time.perf_counter()
        for _ in range(n):
            ray.get(pinned.remote())
        row("cross-node task round trip (driver -> worker node)", (time.perf_counter() - t0) / n * 1e6, "us")

        for strategy in ("DEFAULT", "SPREAD"):
            f = noop.options(scheduling_strategy=strategy)
            total, batch = 100000, 5000
            t0 = time.perf_counter()
            for _ in range(total // batch):
                ray.get([f.remote() for _ in range(batch)])
            row(f"no-op tasks over {len(ids)} nodes ({strategy})", total / (time.perf_counter() - t0), "tasks/s")

        @ray.remote
        def make():
            return [ray.put(b"x" * (100 * 1024 * 1024))]

        @ray.remote
        def fetch(box):
            t = time.perf_counter()
            s = ray.get(box[0])
            assert len(s) == 100 * 1024 * 1024
            return time.perf_counter() - t

        best = float("inf")
        for rnd in range(1, 4):
            box = ray.get(make.options(scheduling_strategy=NodeAffinitySchedulingStrategy(ids[rnd % len(ids)], soft=False)).remote())
            seconds = ray.get(fetch.options(scheduling_strategy=NodeAffinitySchedulingStrategy(ids[(rnd + 1) % len(ids)], soft=False)).remote(box))
            best = min(best, seconds)
        row("100 MB object between two nodes (best of 3)", 100 / best, "MB/s")
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
