"""A threaded python3 workload with a deterministic result: Lock, Condition,
Queue, Barrier and ThreadPoolExecutor. Run by realprog.sh with and without
libf2sync-pthread; both runs must print the same lines."""
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

N = 8

# Lock: a shared counter
lock = threading.Lock()
counter = 0


def bump(n):
    global counter
    for _ in range(n):
        with lock:
            counter += 1


ts = [threading.Thread(target=bump, args=(20000,)) for _ in range(N)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("lock counter", counter)

# Condition: a bounded buffer
cond = threading.Condition()
buf, total, DONE = [], [0], object()


def produce(k):
    for i in range(2000):
        with cond:
            while len(buf) >= 16:
                cond.wait()
            buf.append(k * 100000 + i)
            cond.notify_all()


def consume():
    while True:
        with cond:
            while not buf:
                cond.wait()
            x = buf.pop(0)
            cond.notify_all()
        if x is DONE:
            return
        total[0] += x


ps = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
c = threading.Thread(target=consume)
c.start()
for p in ps:
    p.start()
for p in ps:
    p.join()
with cond:
    buf.append(DONE)
    cond.notify_all()
c.join()
print("condition total", total[0])

# Queue: work items through a queue.Queue, results summed
q, out = queue.Queue(maxsize=32), queue.Queue()


def worker():
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            return
        out.put(item * item)
        q.task_done()


ws = [threading.Thread(target=worker) for _ in range(N)]
for w in ws:
    w.start()
for i in range(20000):
    q.put(i)
for _ in ws:
    q.put(None)
q.join()
for w in ws:
    w.join()
s = 0
while not out.empty():
    s += out.get()
print("queue sum", s)

# Barrier: rounds in lock step
barrier = threading.Barrier(N)
rounds = [0] * N


def stepper(k):
    for _ in range(200):
        barrier.wait()
        rounds[k] += 1


bs = [threading.Thread(target=stepper, args=(k,)) for k in range(N)]
for b in bs:
    b.start()
for b in bs:
    b.join()
print("barrier rounds", rounds)

# ThreadPoolExecutor
with ThreadPoolExecutor(max_workers=N) as ex:
    print("pool sum", sum(ex.map(lambda v: v * 3, range(50000))))
