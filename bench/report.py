#!/usr/bin/env python3
"""Regenerates docs/benchmarks.md and docs/img/*.png from a `make bench` run.

Usage: report.py OUT_DIR DOCS_DIR [README]

Reads the CSV files f2bench wrote into OUT_DIR (targets.csv, meta.csv, one
per workload), the pthread-shim section (shim.csv) and the perf counters
(perf.csv) that bench/run_bench.sh added, draws the plots with gnuplot, and
writes the report. The analysis of a missed target comes from
bench/notes/<target-id>.md, or bench/notes/<family>.md for a family of
thread counts (<family>-t<N>), written by a person after looking at the
counters; a missed target without one is flagged as not yet analysed.
With README (the top-level README.md), the target table between its
"f2bench targets" markers is replaced with this run's.
"""
import csv
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("nan")


def fmt(v, digits=4):
    if v != v:
        return "n/a"
    if abs(v) >= 1e5:
        return "%.3g" % v
    return ("%." + str(digits) + "g") % v


def param(params, key):
    for item in params.split(";"):
        if item.startswith(key + "="):
            return item.split("=", 1)[1]
    return None


def plot(out_dir, img_dir, name, title, xlabel, ylabel, series, logx=False, logy=False):
    """series: {label: [(x, median, lo, hi)]}; writes img_dir/name.png."""
    if not shutil.which("gnuplot") or not series:
        return None
    dat = os.path.join(out_dir, name + ".dat")
    cmds = []
    with open(dat, "w") as f:
        for i, (label, pts) in enumerate(series.items()):
            for x, y, lo, hi in sorted(pts):
                f.write("%g %g %g %g\n" % (x, y, lo, hi))
            f.write("\n\n")
            cmds.append("'%s' index %d using 1:2:3:4 with yerrorlines title '%s'" % (dat, i, label))
    png = os.path.join(img_dir, name + ".png")
    script = [
        "set terminal pngcairo size 800,480 font ',10'",
        "set output '%s'" % png,
        "set title '%s'" % title,
        "set xlabel '%s'" % xlabel,
        "set ylabel '%s'" % ylabel,
        "set key outside right",
        "set grid",
    ]
    if logx:
        script.append("set logscale x 2")
    if logy:
        script.append("set logscale y")
    script.append("plot " + ", ".join(cmds))
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    return os.path.basename(png)


def series_of(rows, metric, key, impls=None):
    s = {}
    for r in rows:
        if r["metric"] != metric or (impls and r["impl"] not in impls):
            continue
        x = param(r["params"], key)
        if x is None:
            continue
        s.setdefault(r["impl"], []).append((float(x), fnum(r["median"]), fnum(r["min"]), fnum(r["max"])))
    return s


def note_for(tid):
    """bench/notes/<id>.md, else the note shared by a family of thread counts
    (contended-short-t8 -> contended-short.md); None when neither exists."""
    for name in (tid, re.sub(r"-t[0-9]+$", "", tid)):
        path = os.path.join(HERE, "notes", name + ".md")
        if os.path.exists(path):
            return path
    return None


def fmt_value(v, unit):
    if v != v:
        return "n/a"
    if unit == "1/s" and v >= 1e4:
        return "%.3g M/s" % (v / 1e6)
    if unit == "ns" and v >= 1e4:
        return "%.3g µs" % (v / 1e3)
    return fmt(v) + (" " + unit if unit and unit not in ("1", "x") else "")


def target_table(targets, missed=None):
    """The target table as markdown lines; appends the missed targets to missed.
    A stretch target that is not reached is shown, never counted as missed."""
    L = ["| id | workload | f2sync | against | measured | target | status |",
         "|---|---|---|---|---|---|---|"]
    for t in targets:
        v = fnum(t["value"])
        unit = "x" if t["kind"] == "ratio" else ""
        st = t["status"]
        if st == "MISSED" and missed is not None:
            missed.append(t)
        shown = ("%.3f" % v if abs(v) < 1000 else "%.3g" % v) if v == v else "n/a"
        versus = t.get("versus", "")
        if t.get("vs_impl"):
            against = "%s %s" % (t["vs_impl"], fmt_value(fnum(t["vs_value"]), t.get("unit", "")))
            if versus == "best peer":
                against = "best: " + against
        else:
            against = "-" if t["kind"] != "ratio" else "n/a"
        L.append("| %s | %s | %s | %s | %s | %s %s%s | %s |" % (
            t["id"], t["description"], fmt_value(fnum(t.get("own")), t.get("unit", "")), against,
            (shown + unit) if v == v else "n/a", t["op"], t["threshold"], unit,
            {"met": "met", "MISSED": "**missed**"}.get(st, st)))
    return L


README_BEGIN = "<!-- f2bench targets: begin (bench/report.py writes this table) -->"
README_END = "<!-- f2bench targets: end -->"


def update_readme(readme, targets, meta, load):
    """Replaces the target table between the README's markers with this run's."""
    if not os.path.exists(readme):
        return False
    text = open(readme).read()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    L = [README_BEGIN,
         "Run of %s (%s preset, medians of %s) on %s, %s CPUs, %s, glibc %s; store unlock %s; "
         "load average %s before, %s after:" % (
             meta.get("date", "?"), meta.get("preset", "?"), meta.get("reps", "?"), meta.get("cpu", "?"),
             meta.get("cores", "?"), meta.get("kernel", "?"), meta.get("glibc", "?"),
             meta.get("store_unlock", "?"), load[0], load[1]),
         ""]
    L.extend(target_table(targets))
    L.extend(["", README_END])
    with open(readme, "w") as f:
        f.write(head + "\n".join(L) + tail)
    return True


def main():
    out_dir, docs = sys.argv[1], sys.argv[2]
    img_dir = os.path.join(docs, "img")
    os.makedirs(img_dir, exist_ok=True)
    meta_rows = read_csv(os.path.join(out_dir, "meta.csv"))
    meta = {r["key"]: r["value"] for r in meta_rows if r["key"] != "note"}
    notes = [r["value"] for r in meta_rows if r["key"] == "note"]
    targets = read_csv(os.path.join(out_dir, "targets.csv"))
    wls = ["uncontended", "contended", "contended_short", "broadcast", "pingpong", "cond_idle", "prodcons",
           "rwlock", "barrier", "futex_handoff", "futex_wake_empty", "futex_wait_mismatch", "futex_distinct"]
    data = {w: read_csv(os.path.join(out_dir, w + ".csv")) for w in wls}
    shim = read_csv(os.path.join(out_dir, "shim.csv"))
    perf = read_csv(os.path.join(out_dir, "perf.csv"))

    def loadavg(name):
        p = os.path.join(out_dir, name)
        return open(p).read().split()[:3] if os.path.exists(p) else ["?"] * 3

    imgs = []
    p = plot(out_dir, img_dir, "contended_throughput", "Contended mutex: throughput vs threads",
             "threads", "lock acquisitions per second", series_of(data["contended"], "ops_per_s", "T"),
             logx=True)
    if p:
        imgs.append(("Contended mutex throughput vs threads (median, bars min..max)", p))
    p = plot(out_dir, img_dir, "contended_short_throughput",
             "Contended mutex, short sections (5/20 units): throughput vs threads",
             "threads", "lock acquisitions per second",
             series_of(data["contended_short"], "ops_per_s", "T"), logx=True)
    if p:
        imgs.append(("Contended mutex throughput vs threads with short sections (lock-dominated)", p))
    p = plot(out_dir, img_dir, "contended_fairness", "Contended mutex: max/min per-thread acquisitions",
             "threads", "max/min (log)", series_of(data["contended"], "max_over_min", "T"), logx=True,
             logy=True)
    if p:
        imgs.append(("Fairness: max/min per-thread acquisitions vs threads", p))
    p = plot(out_dir, img_dir, "broadcast_time", "Condvar broadcast: time per round vs waiters",
             "waiters", "ns from broadcast to last reacquire", series_of(data["broadcast"], "ns_per_round", "N"),
             logx=True, logy=True)
    if p:
        imgs.append(("Broadcast time per round vs waiters, f2sync with requeue (f2sync) and "
                     "without (f2sync-norq)", p))
    p = plot(out_dir, img_dir, "broadcast_csw", "Condvar broadcast: context switches per waiter per round",
             "waiters", "context switches per waiter", series_of(data["broadcast"], "csw_per_waiter", "N"),
             logx=True)
    if p:
        imgs.append(("Broadcast context switches per waiter and round", p))

    p = plot(out_dir, img_dir, "barrier_time", "Barrier: time per round vs threads",
             "threads", "ns per round (log)", series_of(data["barrier"], "ns_per_round", "T"),
             logx=True, logy=True)
    if p:
        imgs.append(("Barrier time per round vs threads (abseil's barrier is one-shot, nsync has none)", p))

    L = []
    L.append("# f2sync benchmarks")
    L.append("")
    L.append("Generated by `make bench` (bench/run_bench.sh → build/bench/f2bench → bench/report.py) "
             "on %s. Do not edit by hand: edit bench/report.py or bench/notes/*.md and rerun." % meta.get("date", "?"))
    L.append("Every figure is the median of %s repetitions (interleaved across implementations), with "
             "its min..max spread; every ratio is against glibc (futex2 layer: against the kernel's "
             "32-bit futex) or, where the target says *best peer*, against the best of glibc, nsync "
             "and abseil for that row, all measured **in the same run**. `make demo` runs the quick "
             "preset and prints the same target table." % meta.get("reps", "?"))
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, label in [("cpu", "CPU"), ("cores", "online CPUs"), ("kernel", "kernel"), ("glibc", "glibc"),
                     ("nsync", "nsync"), ("abseil", "abseil"), ("backend_u32", "futex2 backend, 32-bit words"),
                     ("backend_u8", "futex2 backend, 8-bit words"),
                     ("store_unlock", "store unlock (f2_mutex_t, docs/design/mutex.md)"), ("unit_ns", "one work unit (ns)"),
                     ("preset", "preset"), ("duration_ms", "timed run (ms)"), ("cs", "critical section (units)"),
                     ("ncs", "non-critical section (units)")]:
        if k in meta:
            L.append("| %s | %s |" % (label, meta[k]))
    cpath = os.path.join(out_dir, "commit.txt")
    if os.path.exists(cpath):
        L.append("| f2sync commit | `%s` |" % open(cpath).read().strip())
    b, a = loadavg("loadavg-before.txt"), loadavg("loadavg-after.txt")
    L.append("| load average before / after | %s / %s |" % (" ".join(b), " ".join(a)))
    L.append("")
    L.append("**Noise.** This run was taken on a 2-CPU KVM guest shared with other jobs (the load "
             "average above shows how busy it was). Absolute numbers move by tens of percent between "
             "runs; the ratios, measured with interleaved repetitions in one process, are steadier, "
             "but a ratio within about ±15% of its target should be read as a tie. "
             "Hardware counters (cycles, cache misses) are not exposed in this VM, so the analyses "
             "below rely on software counters (task-clock, context switches, migrations) and on the "
             "per-operation figures f2bench reports.")
    L.append("")
    L.append("## Targets (issues 5 and 12)")
    L.append("")
    missed = []
    L.extend(target_table(targets, missed))
    L.append("")
    na = [t for t in targets if t["status"] == "n/a"]
    if na:
        L.append("`n/a`: no row for that implementation in this run (see the notes at the end: a "
                 "primitive missing from this build of the library is skipped, not faked).")
        L.append("")
    if missed:
        L.append("## Missed targets and why")
        L.append("")
        for t in missed:
            if t["kind"] == "ratio":
                what = "%.3fx %s" % (fnum(t["value"]), t.get("vs_impl") or t.get("versus", ""))
                goal = "%s %sx %s" % (t["op"], t["threshold"], t.get("versus", ""))
            else:
                what, goal = "%.3f" % fnum(t["value"]), "%s %s" % (t["op"], t["threshold"])
            L.append("### %s: %s (measured %s, target %s)" % (t["id"], t["description"], what,
                                                              goal.strip()))
            L.append("")
            note = note_for(t["id"])
            if note:
                L.append(open(note).read().strip())
            else:
                L.append("_Not analysed yet: no bench/notes/%s.md. The counters below are the "
                         "starting point._" % t["id"])
            L.append("")
    if imgs:
        L.append("## Plots")
        L.append("")
        for cap, png in imgs:
            L.append("**%s**" % cap)
            L.append("")
            L.append("![%s](img/%s)" % (cap, png))
            L.append("")
    if perf:
        L.append("## Software counters (perf stat)")
        L.append("")
        L.append("One quick run (`--quick --reps 1 --no-children`) per workload and implementation under `perf stat` "
                 "(whole process, so thread creation and exit are included); "
                 "per operation: CPU time of all threads, context switches, CPU migrations. A lock that "
                 "spins burns CPU time per op; one that parks early pays context switches.")
        L.append("")
        L.append("| workload | params | impl | CPU µs/op | ctx switches/op | migrations/op | ops |")
        L.append("|---|---|---|---|---|---|---|")
        for r in perf:
            w = fnum(r["work"])
            if not w > 0:
                continue
            L.append("| %s | %s | %s | %s | %s | %s | %d |" % (
                r["workload"], r["params"].replace("--", "") or "-", r["impl"],
                fmt(fnum(r["task_clock_ms"]) * 1000 / w, 3), fmt(fnum(r["context_switches"]) / w, 3),
                fmt(fnum(r["cpu_migrations"]) / w, 3), w))
        L.append("")
    L.append("## pthread shim: unmodified programs (issue 6)")
    L.append("")
    if shim:
        L.append("Wall time in seconds, median of %s runs, with and without "
                 "`LD_PRELOAD=libf2sync-pthread.so`; ratio = shim / glibc (lower is better)." % shim[0]["reps"])
        lib = os.path.join(out_dir, "shim-library.txt")
        if os.path.exists(lib):
            L.append("Shim used: %s." % open(lib).read().strip())
        L.append("")
        L.append("| program | impl | median s | min..max | ratio |")
        L.append("|---|---|---|---|---|")
        names = {"mutex": "sysbench mutex (8 threads)", "threads": "sysbench threads (8 threads)",
                 "python": "python3 threading (Lock, Queue, Barrier)"}
        for r in shim:
            L.append("| %s | %s | %s | %s..%s | %sx |" % (names.get(r["params"], r["params"]), r["impl"],
                     fmt(fnum(r["median"])), fmt(fnum(r["min"])), fmt(fnum(r["max"])), fmt(fnum(r["ratio"]), 3)))
    else:
        p = os.path.join(out_dir, "shim-skipped.txt")
        L.append("Skipped in this run: " + (open(p).read().strip() if os.path.exists(p) else "no shim.csv") + ".")
    L.append("")
    L.append("## All results")
    L.append("")
    for w in wls:
        rows = data[w]
        if not rows:
            continue
        L.append("### %s (ratio vs %s)" % (w, rows[0]["baseline"]))
        L.append("")
        L.append("| params | metric | impl | median | min..max | ratio |")
        L.append("|---|---|---|---|---|---|")
        for r in rows:
            L.append("| %s | %s | %s | %s | %s..%s | %s |" % (
                r["params"].replace(";", " ") or "-", r["metric"], r["impl"], fmt(fnum(r["median"])),
                fmt(fnum(r["min"])), fmt(fnum(r["max"])), fmt(fnum(r["ratio"]), 3) + "x"))
        L.append("")
    L.append("Workloads (bench/wl_*.c): *uncontended*: one thread, lock+unlock pairs. *contended*: T "
             "threads, `cs` work units inside and `ncs` outside the lock, for a fixed time; max/min is the "
             "ratio of the busiest to the least served thread; context switches from getrusage. "
             "*contended_short*: the same with short sections (5 and 20 units) where the lock, not the "
             "section work, sets the rate; shown for information, the targets use *contended*. "
             "*broadcast*: N waiters, time from the broadcast to the last waiter holding the mutex again; "
             "f2sync-norq is f2sync with `F2SYNC_REQUEUE=0` (a child process). *pingpong*: two threads "
             "pass a turn through mutex+condvar. *cond_idle*: signal (broadcast) with nobody waiting, "
             "on a condvar that has had a waiter, without the mutex held. *prodcons*: one producer "
             "pushes into a bounded queue and signals on every push, C consumers pop and do item_ns of "
             "work per item outside the lock (the thread-pool pattern). *rwlock*: read% reads, the rest "
             "writes. *barrier*: T threads, rounds (abseil's barrier is one-shot and nsync has none). "
             "Peers: glibc, nsync and abseil (absl::Mutex with deadlock detection off, as in a release "
             "build; absl::CondVar). *futex_handoff*: two threads pass a turn through one futex word. "
             "*futex_wake_empty*: wake with no waiter. *futex_wait_mismatch*: a wait whose value differs "
             "(returns -EAGAIN). *futex_distinct*: T threads in pairs, each on its "
             "own word. u32-legacy and u32-emu come from child runs with `F2SYNC_BACKEND=legacy|emulate`. "
             "Every workload checks its own result (counter == sum of acquisitions, no torn read, one "
             "serial thread per barrier round, every pass delivered); f2bench exits non-zero otherwise.")
    L.append("")
    if notes:
        L.append("## Notes from this run")
        L.append("")
        for n in notes:
            L.append("- " + n)
        L.append("")
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(L))
    if len(sys.argv) > 3:
        load = (" ".join(loadavg("loadavg-before.txt")), " ".join(loadavg("loadavg-after.txt")))
        done = update_readme(sys.argv[3], targets, meta, load)
        print("report: %s the target table in %s" % ("updated" if done else "found no markers for",
                                                     sys.argv[3]), file=sys.stderr)
    print("report: wrote %s (%d targets, %d missed, %d plots)" % (
        os.path.join(docs, "benchmarks.md"), len(targets), len(missed), len(imgs)), file=sys.stderr)


if __name__ == "__main__":
    main()
