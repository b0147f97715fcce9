"""Python peers for scripts/bench/codec.sh: the same workloads through
pickle (values) and cloudpickle (functions, as Ray ships them).
Prints "<row name>\t<ns per operation>" like codec-bench."""
import pickle
import time

import cloudpickle

SCALE = 3


def helper(x):
    return x * SCALE


def make_task():
    k = 10
    return lambda x: helper(x) + k


def measure(iterations, body, runs=9):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            body()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best


def roundtrip(value, dumps=pickle.dumps):
    return lambda: pickle.loads(dumps(value))


small_table = list(range(1, 11))
big_array = [i * 0.5 for i in range(1, 100001)]
task = make_task()
rows = [
    ("small integer encode+decode", measure(300_000, roundtrip(42))),
    ("10-element table encode+decode", measure(200_000, roundtrip(small_table))),
    ("100,000-number array encode+decode", measure(50, roundtrip(big_array))),
    ("100,000-number array encode", measure(50, lambda: pickle.dumps(big_array))),
    ("cached function re-submit (encode)", measure(20_000, lambda: cloudpickle.dumps(task))),
    ("cached function encode+decode", measure(20_000, roundtrip(task, cloudpickle.dumps))),
]
for name, ns in rows:
    print(f"{name}\t{ns:.1f}")
