"""The comparison workloads for Ray (Python), mirrored by workloads.lua for
ours: same algorithms, same inputs, same printed answers. Run by
compare-ray.sh:  python workloads.py fib|wordcount|bigobject
Prints "<workload>\t<answer>\t<seconds>"; the word count also prints a
"wordcount-mapreduce" line: the same run timed from the first map task,
without generating the corpus (interpreter work that involves no engine);
bigobject also prints "bigobject-median5", the median of five more rounds."""
import sys
import time

import ray


def corpus(lines, words_per_line=10, vocabulary=5000, seed=12345):
    """A deterministic corpus: a 31-bit LCG, word index skewed towards small ones."""
    x = seed
    out = []
    for _ in range(lines):
        words = []
        for _ in range(words_per_line):
            x = (x * 1103515245 + 12345) % 2147483648
            a = (x >> 8) % vocabulary
            x = (x * 1103515245 + 12345) % 2147483648
            b = (x >> 8) % vocabulary
            words.append("w%d" % (a * b // vocabulary))
        out.append(" ".join(words))
    return out


@ray.remote
def fib(n):
    if n < 2:
        return n
    return ray.get(fib.remote(n - 1)) + ray.get(fib.remote(n - 2))


@ray.remote
def count_words(lines):
    counts = {}
    for line in lines:
        for word in line.split(" "):
            counts[word] = counts.get(word, 0) + 1
    return counts


def main():
    which = sys.argv[1]
    ray.init(logging_level="ERROR")
    ray.get(fib.remote(1))  # warm: a worker is up
    start = time.perf_counter()
    if which == "fib":
        answer = str(ray.get(fib.remote(20)))
    elif which == "wordcount":
        lines = corpus(200000)
        map_start = time.perf_counter()
        chunk = len(lines) // 16
        refs = [count_words.remote(lines[i * chunk:(i + 1) * chunk]) for i in range(16)]
        total = {}
        for counts in ray.get(refs):
            for word, n in counts.items():
                total[word] = total.get(word, 0) + n
        top = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        answer = " ".join("%s=%d" % kv for kv in top)
        print("%s\t%s\t%.4f" % ("wordcount-mapreduce", answer, time.perf_counter() - map_start))
    elif which == "bigobject":
        value = "x" * (100 * 1024 * 1024)
        start = time.perf_counter()  # timed from the put, as workloads.lua
        back = ray.get(ray.put(value))
        answer = str(len(back))
        first = time.perf_counter() - start
        times = []
        for _ in range(5):  # then five more rounds, their median on its own line
            t = time.perf_counter()
            back = ray.get(ray.put(value))
            times.append(time.perf_counter() - t)
            del back
        times.sort()
        print("%s\t%s\t%.4f" % ("bigobject-median5", answer, times[2]))
        start = time.perf_counter() - first
    else:
        raise SystemExit("unknown workload " + which)
    print("%s\t%s\t%.4f" % (which, answer, time.perf_counter() - start))
    ray.shutdown()


if __name__ == "__main__":
    main()
