"""Workload for preload_demo: every threading primitive CPython builds on
pthread mutexes and condition variables. Prints only deterministic results,
so a run with the f2sync pthread replacement must print the same text."""
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

THREADS = 8

# Lock: a shared counter.
lock = threading.Lock()
total = 0
def add(n):
    global total
    for _ in range(n):
        with lock:
            total += 1
ts = [threading.Thread(target=add, args=(20000,)) for _ in range(THREADS)]
for t in ts: t.start()
for t in ts: t.join()
print("lock counter", total)

# Queue (a Condition inside): producers and consumers.
q = queue.Queue(maxsize=16)
got = []
got_lock = threading.Lock()
def produce(base):
    for i in range(2000):
        q.put(base + i)
def consume():
    while True:
        v = q.get()
        if v is None:
            return
        with got_lock:
            got.append(v)
ps = [threading.Thread(target=produce, args=(k * 2000,)) for k in range(4)]
cs = [threading.Thread(target=consume) for _ in range(4)]
for t in ps + cs: t.start()
for t in ps: t.join()
for _ in cs: q.put(None)
for t in cs: t.join()
print("queue items", len(got), "distinct", len(set(got)), "sum", sum(got))

# Condition: a turn passed around a ring of threads.
cond = threading.Condition()
turn = [0]
order = []
def ring(me):
    for r in range(200):
        with cond:
            while turn[0] % 4 != me:
                cond.wait()
            order.append(me)
            turn[0] += 1
            cond.notify_all()
rs = [threading.Thread(target=ring, args=(k,)) for k in range(4)]
for t in rs: t.start()
for t in rs: t.join()
print("ring turns", len(order), "in order", order == [k % 4 for k in range(800)])

# Barrier: phases.
barrier = threading.Barrier(THREADS)
phase_log = []
def phased(me):
    for p in range(50):
        with lock:
            phase_log.append(p)
        barrier.wait()
bs = [threading.Thread(target=phased, args=(k,)) for k in range(THREADS)]
for t in bs: t.start()
for t in bs: t.join()
print("barrier phases ordered", phase_log == sorted(phase_log))

# ThreadPoolExecutor.
with ThreadPoolExecutor(max_workers=THREADS) as ex:
    squares = list(ex.map(lambda x: x * x, range(5000)))
print("pool sum of squares", sum(squares))
