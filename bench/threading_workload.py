#!/usr/bin/env python3
"""Python threading workload for f2bench's shim section (issue 6).

Runs threading.Lock counters, a Condition-based queue.Queue producer/consumer
pipeline and Barrier rounds; CPython's locks sit on pthread mutexes and
condition variables, so under LD_PRELOAD=libf2sync-pthread.so they run on
f2sync. Prints the wall time in seconds; exits 1 if a count is wrong.
Usage: threading_workload.py [scale]
"""
import queue
import sys
import threading
import time


def counters(nthreads, n):
    lock = threading.Lock()
    total = [0]

    def run():
        for _ in range(n):
            with lock:
                total[0] += 1

    ts = [threading.Thread(target=run) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return total[0] == nthreads * n


def pipeline(nprod, ncons, n):
    q = queue.Queue(maxsize=64)
    got = []
    got_lock = threading.Lock()

    def produce(base):
        for i in range(n):
            q.put(base + i)

    def consume():
        s = 0
        while True:
            v = q.get()
            if v is None:
                break
            s += v
        with got_lock:
            got.append(s)

    cons = [threading.Thread(target=consume) for _ in range(ncons)]
    prods = [threading.Thread(target=produce, args=(p * n,)) for p in range(nprod)]
    for t in cons + prods:
        t.start()
    for t in prods:
        t.join()
    for _ in cons:
        q.put(None)
    for t in cons:
        t.join()
    m = nprod * n
    return sum(got) == m * (m - 1) // 2


def barrier_rounds(nthreads, rounds):
    b = threading.Barrier(nthreads)
    seen = [0] * nthreads

    def run(k):
        for _ in range(rounds):
            b.wait()
            seen[k] += 1

    ts = [threading.Thread(target=run, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return all(s == rounds for s in seen)


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    t0 = time.monotonic()
    ok = counters(8, 20000 * scale)
    ok &= pipeline(4, 4, 5000 * scale)
    ok &= barrier_rounds(4, 300 * scale)
    print("%.4f" % (time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
