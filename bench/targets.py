#!/usr/bin/env python3
"""bench/run.sh's driver: measures the targets of issue 8 (T1-T7) against the plain loops and prints them.

  targets.py run --corpus DIR --bin DIR --work DIR --results FILE.jsonl --logs DIR [--targets T1,..] [--ops OP,..]
                 [--rounds N] [--quick] [--quiet-wait S] [--dips-args ARGS] [--keep] [--command TEXT]
  targets.py table RESULTS.jsonl        prints the tables again from the raw results

The configurations, all with GLIBC_TUNABLES=glibc.malloc.hugetlb=1, each timed from outside (monotonic clock,
from before the first process starts to the end of the last):
  dips3, dips17  BIN/dips-run -n 3 (or 17) -- [DIPS_ARGS] --quiet --output FRESH (--op OP INPUTS | --manifest M)
  plain1         BIN/dips-reference --loop OP FRESH --files-from LIST   (imread -> OP -> imwrite, 1 thread)
  plain2         two such loops at once over the two halves of LIST (task i to loop i % 2); wall: until both end
  probe          dips3 on the smallest small/ image, twice per round: launch and rank 0's start-up CPU
  floor3, floor17  BIN/dips-run -n 3 (T7: and -n 17) starting BIN/dips-mpi-floor in dips' place, twice per
                 round: Open MPI's own start and end (MPI_Init and nothing else). A target's "at floor" ratio is
                 what a dips whose job took exactly the base loop's time, and that added nothing to that floor,
                 would measure: plain / (plain + floor3); T7: dips3 / (dips3 + floor17 - floor3)
"""
import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import benchlib

TUNABLES = "glibc.malloc.hugetlb=1"   # every configuration, as issue 8 measured
QUIET_CORES = 0.3                     # a run with more CPU used by other processes meanwhile is "noisy"
T1_OPS = ["blur=5", "edge_detection", "color_inversion", "grayscale", "read_qr_code"]
T3_OPS = ["grayscale", "blur=5"]
T4_NEEDS = {"blur=5": 1.0, "edge_detection": 1.3}
RUN_TIMEOUT_S = int(os.environ.get("BENCH_RUN_TIMEOUT", "1800"))  # then the run is ended (its process group): failed
PER_TASK_GROWTH = 1.10                # T6: dips' own time per task at the big size <= 1.10 x at the small size
RSS_LIMIT_MB = 200.0

TARGETS = {  # what each target needs, for the headers and the final table
    "T1": "directory of 8-20 MP photos, 5 ops: >= 1.00x the plain 2-process loop",
    "T2": ">= 120 photos of 1-4 MP by manifest, outside wall: >= 1.00x the plain 2-process loop",
    "T3": "20,000 PNGs of 64x64, grayscale and blur: >= 0.80x the plain 2-process loop",
    "T4": "one 50 MP image, JPEG and PNG: blur >= 1.00x, edge_detection >= 1.30x the plain 1-process loop",
    "T5": "rank 0 during T1-T3, net of start-up: <= 10% of one core",
    "T6": f"100,000-task manifest: rank 0 peak RSS <= {RSS_LIMIT_MB:.0f} MB, per-task time not growing with the job",
    "T7": "T3 with 16 workers (-n 17, oversubscribed): tasks/s >= 0.80x the -n 3 run",
}


# ============================================================================= task sets and jobs
class TaskSet:
    """Tasks (input, output relative to the output folder) and how dips gets them: a folder, files or a manifest."""

    def __init__(self, name, label, tasks, mode, folder=None):
        self.name, self.label, self.tasks, self.mode, self.folder = name, label, tasks, mode, folder

    def describe(self):
        inputs = sorted({t[0] for t in self.tasks})
        mp = sum(benchlib.megapixels(p) for p in inputs) * len(self.tasks) / len(inputs)
        return {"name": self.name, "label": self.label, "tasks": len(self.tasks), "inputs": len(inputs),
                "megapixels": round(mp, 3), "mode": self.mode}


def images_in(folder):
    return sorted(str(p) for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def files_set(name, label, files):
    return TaskSet(name, label, [(f, os.path.basename(f)) for f in files], "files")


def folder_set(name, label, folder):
    return TaskSet(name, label, [(f, os.path.basename(f)) for f in images_in(folder)], "folder", folder)


def repeated_set(name, label, files, copies):
    """files listed `copies` times, copy k written to cK/NAME: a manifest job."""
    return TaskSet(name, label, [(f, f"c{k}/{os.path.basename(f)}") for k in range(1, copies + 1) for f in files],
                   "manifest")


def corpus_manifest_set(name, label, corpus, count):
    """The first `count` tasks of the corpus's thumbs-x5.tsv (its inputs are relative to the corpus folder)."""
    tasks = []
    with open(Path(corpus) / "thumbs-x5.tsv") as f:
        for line in f:
            if len(tasks) == count:
                break
            inp, _op, out = line.rstrip("\n").split("\t")
            tasks.append((str(Path(corpus) / inp), out))
    if len(tasks) < count:
        sys.exit(f"targets: {corpus}/thumbs-x5.tsv has {len(tasks)} tasks, {count} needed")
    return TaskSet(name, label, tasks, "manifest")


def smallest(files):
    return min(files, key=benchlib.megapixels)


def build_sets(corpus, quick):
    c = Path(corpus)
    large, medium, thumbs = images_in(c / "large"), images_in(c / "medium"), images_in(c / "thumbs")
    jpg = lambda fs: [f for f in fs if f.lower().endswith((".jpg", ".jpeg"))]
    png = lambda fs: [f for f in fs if f.lower().endswith(".png")]
    probe = smallest(images_in(c / "small"))
    if quick:
        small_large = [smallest(jpg(large)), smallest(png(large))]
        return {
            "large": files_set("large", "2 photos of large/ (quick)", small_large),
            "medium-x4": repeated_set("medium-x4", "3 photos of medium/ twice, by manifest (quick)", medium[:3], 2),
            "thumbs": files_set("thumbs", "300 thumbnails of thumbs/ (quick)", thumbs[:300]),
            "xlarge-jpg": files_set("xlarge-jpg", "the smallest JPEG of large/ (quick)", small_large[:1]),
            "xlarge-png": files_set("xlarge-png", "the smallest PNG of large/ (quick)", small_large[1:]),
            "tasks-small": corpus_manifest_set("tasks-small", "200 tasks of thumbs-x5.tsv (quick)", corpus, 200),
            "tasks-big": corpus_manifest_set("tasks-big", "1,000 tasks of thumbs-x5.tsv (quick)", corpus, 1000),
            "probe": files_set("probe", "1 image of small/", [probe]),
        }
    return {
        "large": folder_set("large", "large/: directory of 8-20 MP photos", c / "large"),
        "medium-x4": repeated_set("medium-x4", "medium/ listed 4 times in a manifest (1-4 MP)", medium, 4),
        "thumbs": folder_set("thumbs", "thumbs/: directory of 64x64 PNGs", c / "thumbs"),
        "xlarge-jpg": files_set("xlarge-jpg", "xlarge/ JPEG (50 MP)", jpg(images_in(c / "xlarge"))),
        "xlarge-png": files_set("xlarge-png", "xlarge/ PNG (50 MP)", png(images_in(c / "xlarge"))),
        "tasks-small": corpus_manifest_set("tasks-small", "first 10,000 tasks of thumbs-x5.tsv", corpus, 10000),
        "tasks-big": corpus_manifest_set("tasks-big", "thumbs-x5.tsv: 100,000 tasks", corpus, 100000),
        "probe": files_set("probe", "1 image of small/", [probe]),
    }


def plan_jobs(targets, ops):
    """[(set, op, configs)]: the union of what the chosen targets need; T5 only adds dips3 runs of T1-T3's jobs."""
    jobs = {}

    def need(set_name, op, *configs):
        have = jobs.setdefault((set_name, op), [])
        have += [c for c in configs if c not in have]

    t1_ops = [o for o in T1_OPS if not ops or o in ops]
    t3_ops = [o for o in T3_OPS if not ops or o in ops]
    if "T1" in targets:
        for op in t1_ops:
            need("large", op, "dips3", "plain2", "plain1")
    if "T2" in targets:
        for op in t1_ops:
            need("medium-x4", op, "dips3", "plain2")
    if "T3" in targets:
        for op in t3_ops:
            need("thumbs", op, "dips3", "plain2")
    if "T5" in targets:
        for op in t1_ops:
            need("large", op, "dips3")
            need("medium-x4", op, "dips3")
        for op in t3_ops:
            need("thumbs", op, "dips3")
    if "T7" in targets:
        for op in t3_ops:
            need("thumbs", op, "dips3", "dips17")
    if "T4" in targets:
        for s in ("xlarge-jpg", "xlarge-png"):
            for op in T4_NEEDS:
                need(s, op, "dips3", "plain1")
    if "T6" in targets:
        for s in ("tasks-small", "tasks-big"):
            need(s, "grayscale", "dips3", "plain2")
    return [(s, op, configs) for (s, op), configs in jobs.items()]


def slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# ============================================================================= running
class Runner:
    def __init__(self, args, sets):
        self.args, self.sets = args, sets
        self.bin = Path(args.bin)
        self.work = Path(args.work)
        self.lists = self.work / "lists"
        self.logs = Path(args.logs)
        self.lists.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.dips_args = shlex.split(args.dips_args or "")
        self.env = dict(os.environ, GLIBC_TUNABLES=TUNABLES, DIPS_BIN=str(self.bin / "dips"))
        self.priority = args.priority
        self.launch = ["--launch", args.launch] if args.launch else []
        self.failed = 0

    def write_lists(self, set_name, op):
        """The plain loops' lists (all tasks, and the two halves) and, for a manifest set, dips' manifest."""
        ts = self.sets[set_name]
        base = self.lists / slug(f"{set_name}-{op}")
        lines = [f"{inp}\t{out}\n" for inp, out in ts.tasks]
        Path(f"{base}.all").write_text("".join(lines))
        for half in (0, 1):
            Path(f"{base}.half{half}").write_text("".join(lines[half::2]))
        if ts.mode == "manifest":
            Path(f"{base}.tsv").write_text("".join(f"{inp}\t{op}\t{out}\n" for inp, out in ts.tasks))
        return base

    def commands(self, set_name, op, config, out, base):
        ts = self.sets[set_name]
        if config in ("floor3", "floor17"):
            return [[str(self.bin / "dips-run"), "-n", config[5:]] + self.launch + ["--", "--quiet"]]
        if config in ("dips3", "dips17", "probe"):
            ranks = "17" if config == "dips17" else "3"
            if ts.mode == "manifest":
                inputs = ["--manifest", f"{base}.tsv"]
            elif ts.mode == "folder":
                inputs = ["--op", op, ts.folder]
            else:
                inputs = ["--op", op] + [t[0] for t in ts.tasks]
            return [[str(self.bin / "dips-run"), "-n", ranks] + self.launch + ["--"] + self.dips_args
                    + ["--quiet", "--output", str(out)] + inputs]
        loop = lambda lst: [str(self.bin / "dips-reference"), "--loop", op, str(out), "--files-from", lst]
        if config == "plain1":
            return [loop(f"{base}.all")]
        return [loop(f"{base}.half0"), loop(f"{base}.half1")]

    def prioritise(self):
        """In the child, before exec: --priority as the nice value of the run's new session. Linux schedules
        sessions (autogroups) fairly against each other whatever their processes' own nice values, so on a
        machine shared with other sessions only the autogroup's nice value gives the runs the cores."""
        if self.priority is not None:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(self.priority))

    def run(self, round_no, set_name, op, config, out, base, quiet):
        """One timed run; appends its record to the results and returns it."""
        ts = self.sets[set_name]
        cmds = self.commands(set_name, op, config, out, base)
        if config.startswith("plain"):  # the loops write into existing folders, as a plain shell loop would
            for d in {os.path.dirname(t[1]) for t in ts.tasks}:
                (out / d).mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{out.name}.log"
        os.sync()  # the previous run's writeback must not land in this run
        with open(log_path, "wb") as log:
            meter = benchlib.LoadMeter()
            # each command in its own process group, so that a hung run can be ended with all it started
            env = dict(self.env, DIPS_BIN=str(self.bin / "dips-mpi-floor")) if config.startswith("floor") else self.env
            procs = [subprocess.Popen(c, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      start_new_session=True, preexec_fn=self.prioritise) for c in cmds]
            ends = [None] * len(procs)
            timed_out = []
            rss = Rank0Rss(procs[0].pid) if set_name.startswith("tasks-") and config.startswith("dips") else None

            def wait(i):
                try:
                    procs[i].wait(timeout=RUN_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    timed_out.append(i)
                    for sig in (signal.SIGTERM, signal.SIGKILL):
                        try:
                            os.killpg(procs[i].pid, sig)
                        except ProcessLookupError:
                            break
                        try:
                            procs[i].wait(timeout=5)
                            break
                        except subprocess.TimeoutExpired:
                            pass
                    procs[i].wait()
                ends[i] = time.monotonic()

            waiters = [threading.Thread(target=wait, args=(i,)) for i in range(len(procs))]
            for w in waiters:
                w.start()
            for w in waiters:
                w.join()
            load = meter.read()
        record = {"kind": "run", "round": round_no, "set": set_name, "op": op, "config": config,
                  "exit": [p.returncode for p in procs], "part_s": [round(e - meter.t0, 4) for e in ends],
                  "quiet_wait": quiet, "log": str(log_path)}
        record.update(load)
        if rss:
            rss.stop()
            if rss.peak_kb:
                record["rank0_vmhwm_mb"] = round(rss.peak_kb / 1024, 1)
        if config.startswith("dips") or config == "probe":
            summary = benchlib.report_summary(out / "report.jsonl")
            if summary is None:
                record["error"] = "no summary line in dips' report"
            else:
                record["dips"] = summary
                if summary.get("ok") != len(ts.tasks):
                    record["error"] = f"{summary.get('ok')} of {len(ts.tasks)} tasks ok"
                if len(ts.tasks) <= SHAPE_MAX_TASKS:
                    record["shape"] = benchlib.shape_totals(benchlib.pipeline_shape(out / "report.jsonl"))
        if timed_out:
            record["error"] = f"ended after {RUN_TIMEOUT_S} s"
        if any(record["exit"]) and "error" not in record:
            record["error"] = f"exit {record['exit']}"
        with open(self.args.results, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        if "error" not in record and not self.args.keep:
            log_path.unlink()  # a failed run's log stays, beside the results
        if "error" in record:
            self.failed += 1
            print(f"bench: {set_name} {op} {config} round {round_no} failed ({record['error']}); log: {log_path}",
                  file=sys.stderr)
        return record


class Rank0Rss:
    """Polls rank 0's VmHWM (peak resident set) from /proc while a dips run lasts: it covers the report page too,
    which rank 0 writes after the summary's rank0_peak_rss_mb. Rank 0 is the `dips` process under the launcher whose OMPI_COMM_WORLD_RANK is 0."""

    def __init__(self, launcher_pid):
        self.launcher, self.pid, self.peak_kb = launcher_pid, None, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join()

    def poll(self):
        while not self.done.wait(0.1):
            if self.pid is None:
                self.pid = self.find()
            if self.pid is not None:
                try:
                    status = Path(f"/proc/{self.pid}/status").read_text()
                except OSError:
                    continue  # rank 0 ended: its last reading stands
                m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
                if m:
                    self.peak_kb = max(self.peak_kb, int(m.group(1)))

    def find(self):
        parent = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                except OSError:
                    continue
                comm_end = stat.rindex(")")
                parent[int(d)] = (int(stat[comm_end + 2:].split()[1]), stat[stat.index("(") + 1:comm_end])
        for pid, (_ppid, comm) in parent.items():
            if comm != "dips":
                continue
            p = pid
            while p in parent and p != self.launcher and p > 1:
                p = parent[p][0]
            if p != self.launcher:
                continue
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            try:
                spawned = b"--worker-id" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"OMPI_COMM_WORLD_RANK=0" in env and not spawned:  # a started worker is rank 0 of its own job
                return pid
        return None


# ============================================================================= correctness
def compare_outputs(tasks, got, want):
    """Outputs of one configuration against the reference's: same bytes, else same decoded pixels (a different
    encoder setting may legitimately change bytes only), else different; or missing."""
    import cv2  # python3-opencv: bench/run.sh installs it
    import numpy
    result = {"total": len(tasks), "bytes": 0, "pixels": 0, "differ": [], "missing": []}
    for _inp, out in tasks:
        a, b = Path(got) / out, Path(want) / out
        if not a.is_file() or not b.is_file():
            result["missing"].append(out)
            continue
        da, db = a.read_bytes(), b.read_bytes()
        if da == db:
            result["bytes"] += 1
            continue
        ia = cv2.imdecode(numpy.frombuffer(da, numpy.uint8), cv2.IMREAD_UNCHANGED)
        ib = cv2.imdecode(numpy.frombuffer(db, numpy.uint8), cv2.IMREAD_UNCHANGED)
        if ia is not None and ib is not None and ia.shape == ib.shape and ia.dtype == ib.dtype \
                and numpy.array_equal(ia, ib):
            result["pixels"] += 1
        else:
            result["differ"].append(out)
    for k in ("differ", "missing"):
        result[f"{k}_count"] = len(result[k])
        result[k] = result[k][:10]
    return result


# ============================================================================= the run
def header(args, sets, jobs):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    b = Path(args.bin)
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    memory = sh("free -g | awk '/^Mem:/ {print $2}'")
    loadavg = " ".join(open("/proc/loadavg").read().split()[:3])
    mpi = sh("mpirun --version 2>/dev/null | head -1")
    thp = sh("cat /sys/kernel/mm/transparent_hugepage/enabled")
    digest = lambda f: sh(f"sha256sum '{b / f}' | cut -c1-12")
    lines = [
        "# dips benchmark: the targets of issue 8",
        f"command:  {args.command}",
        f"date:     {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"machine:  {os.cpu_count()} cores ({model}), {memory} GiB, load average at start {loadavg}",
        f"system:   Linux {platform.release()}; glibc {platform.libc_ver()[1]}; {mpi}; THP {thp}",
        f"dips:     {sh(repr(str(b / 'dips')) + ' --version')} (sha256 {digest('dips')}; dips-reference "
        f"{digest('dips-reference')}) {args.revision}",
        f"dips args: {args.dips_args or '(none)'}; dips-run launch: {args.launch or 'its default'}; every configuration runs with GLIBC_TUNABLES={TUNABLES}"
        + (f"; every run's session (autogroup) at nice {args.priority}" if args.priority is not None else ""),
        f"corpus:   {args.corpus}" + (" (quick mode: small stand-ins for every set)" if args.quick else ""),
        f"rounds:   {args.rounds}, interleaved (every round runs every job and configuration once; the order "
        f"rotates); " + (f"waits up to {args.quiet_wait:g} s before each job for other load under {QUIET_CORES} cores"
                         if args.quiet_wait > 0 else "does not wait for a quiet machine (--quiet-wait 0)"),
    ]
    for s in sorted({j[0] for j in jobs} | {"probe"}):
        d = sets[s].describe()
        lines.append(f"set {s:<12} {d['label']}: tasks {d['tasks']}, inputs {d['inputs']}, {d['megapixels']:.1f} MP "
                     f"(dips gets {'a ' if d['mode'] != 'files' else ''}{d['mode']})")
    return "\n".join(lines)


def cmd_run(argv):
    p = argparse.ArgumentParser(prog="targets.py run")
    for opt in ("--corpus", "--bin", "--work", "--results", "--logs"):
        p.add_argument(opt, required=True)
    p.add_argument("--targets", default="T1,T2,T3,T4,T5,T6,T7")
    p.add_argument("--ops", default="")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--quiet-wait", type=float, default=60)
    p.add_argument("--dips-args", default="")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--priority", type=int, default=None)
    p.add_argument("--launch", choices=["world", "spawned"], default=None)
    p.add_argument("--command", default="")
    p.add_argument("--revision", default="")
    args = p.parse_args(argv)
    targets = [t.strip().upper() for t in args.targets.split(",") if t.strip()]
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        sys.exit(f"bench: unknown target(s) {', '.join(bad)} (T1..T7)")
    ops = [o for o in args.ops.split(",") if o]
    sets = build_sets(args.corpus, args.quick)
    jobs = plan_jobs(targets, ops)
    if not jobs:
        sys.exit("bench: nothing to run (--ops leaves no operation of the chosen targets)")
    head = header(args, sets, jobs)
    print(head, flush=True)
    (Path(args.work) / "header.txt").write_text(head + "\n")
    meta = {"kind": "meta", "targets": targets, "quick": args.quick, "rounds": args.rounds,
            "dips_args": args.dips_args, "header": head,
            "jobs": [{"set": s, "op": op, "configs": c} for s, op, c in jobs],
            "sets": {s: sets[s].describe() for s in {j[0] for j in jobs} | {"probe"}}}
    with open(args.results, "a") as f:
        f.write(json.dumps(meta) + "\n")

    runner = Runner(args, sets)
    for s in {j[0] for j in jobs} | {"probe"}:  # read every input once: the first configuration must not pay the disk
        for inp in {t[0] for t in sets[s].tasks}:
            with open(inp, "rb") as f:
                while f.read(1 << 20):
                    pass
    bases = {(s, op): runner.write_lists(s, op) for s, op, _ in jobs}
    probe_base = runner.write_lists("probe", "grayscale")
    start = time.monotonic()
    finished_outputs = []
    for rnd in range(1, args.rounds + 1):
        print(f"round {rnd}/{args.rounds}: load average {' '.join(open('/proc/loadavg').read().split()[:3])}",
              file=sys.stderr, flush=True)
        for k in (1, 2):
            for config in ["probe", "floor3"] + (["floor17"] if "T7" in targets else []):
                out = runner.work / f"r{rnd}-{config}{k}"
                runner.run(rnd, "probe", "grayscale", config, out, probe_base, None)
                shutil.rmtree(out, ignore_errors=True)
        for j, (s, op, configs) in enumerate(jobs):
            quiet = None
            if args.quiet_wait > 0:
                waited, load = benchlib.wait_quiet(args.quiet_wait, QUIET_CORES)
                quiet = {"waited_s": round(waited, 1), "load": round(load, 2)}
            order = [configs[(i + rnd + j) % len(configs)] for i in range(len(configs))]  # rotates between rounds
            line = f"  {s} {op}:"
            outs = {}
            for config in order:
                out = runner.work / slug(f"r{rnd}-{s}-{op}-{config}")
                shutil.rmtree(out, ignore_errors=True)
                rec = runner.run(rnd, s, op, config, out, bases[(s, op)], quiet)
                outs[config] = out
                line += f" {config} " + ("FAILED" if "error" in rec else f"{rec['wall_s']:.2f}s")
            print(f"{line}   [{time.monotonic() - start:.0f} s]", file=sys.stderr, flush=True)
            if rnd == 1:
                check(args, sets[s], s, op, outs)
            finished_outputs += outs.values()
    # Outputs go only now: on ext4, creating a file within ~15-20 s of deleting many in the same block group
    # scans past every recently freed inode (find_inode_bit -> recently_deleted). Deleting 60,000 outputs
    # between jobs made the next job's first configuration 3-5x slower per small file, whichever it was.
    if not args.keep:
        for out in finished_outputs:
            shutil.rmtree(out, ignore_errors=True)
    text = render(args.results)
    print(text)
    (Path(args.work) / "table.txt").write_text(text + "\n")
    print(f"total benchmark time: {time.monotonic() - start:.0f} s; raw results: {args.results}")
    return 1 if runner.failed else 0


def check(args, ts, set_name, op, outs):
    """Round 1: each dips configuration's outputs against the plain loop's (or, without one, dips -n 3's)."""
    reference = next((c for c in ("plain2", "plain1", "dips3") if c in outs), None)
    for config, out in outs.items():
        if config == reference or not config.startswith("dips"):
            continue
        result = compare_outputs(ts.tasks, out, outs[reference])
        result.update({"kind": "check", "set": set_name, "op": op, "config": config, "reference": reference})
        with open(args.results, "a") as f:
            f.write(json.dumps(result, sort_keys=True) + "\n")


# ============================================================================= tables
def load(path):
    meta, runs, checks = None, [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "meta":
                meta = r
            elif r["kind"] == "run":
                runs.append(r)
            elif r["kind"] == "check":
                checks.append(r)
    if meta is None:
        sys.exit(f"{path}: no meta line: not a results file of bench/run.sh")
    return meta, runs, checks


class Stats:
    """Medians per (set, op, config) over the successful runs, the quiet ones when there are any."""

    def __init__(self, runs):
        self.by = {}
        for r in runs:
            if "error" not in r:
                self.by.setdefault((r["set"], r["op"], r["config"]), []).append(r)
        self.noisy = set()
        for k, v in self.by.items():
            quiet = [r for r in v if r.get("other_cores", 0) < QUIET_CORES]
            if quiet:
                self.by[k] = quiet
            else:
                self.noisy.add(k)

    def runs(self, s, op, config):
        return self.by.get((s, op, config), [])

    def wall(self, s, op, config):
        return benchlib.median(r["wall_s"] for r in self.runs(s, op, config))

    def own(self, s, op, config):
        """dips' own wall_s (its report): the outside wall without mpirun's launch and teardown."""
        return benchlib.median(r["dips"]["wall_s"] for r in self.runs(s, op, config))

    def count(self, s, op, config):
        n = len(self.runs(s, op, config))
        return f"{n}{'!' if (s, op, config) in self.noisy else ''}"

    def other(self, s, op, *configs):
        v = [r.get("other_cores", 0) for c in configs for r in self.runs(s, op, c)]
        return f"{max(v):.2f}" if v else "-"


def fmt(v, spec=".2f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


def span(values, scale=1.0, spec=".2f", suffix="x"):
    """'lo-hi' of values (one value when they are equal), '-' when there are none."""
    if not values:
        return "-"
    lo, hi = f"{scale * min(values):{spec}}", f"{scale * max(values):{spec}}"
    return f"{lo}{suffix}" if lo == hi else f"{lo}-{hi}{suffix}"


def verdict(value, need, at_most=False):
    if value is None:
        return "no data"
    return "met" if (value <= need if at_most else value >= need) else "NOT MET"


def table(head, rows):
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def render(path):
    meta, runs, checks = load(path)
    st = Stats(runs)
    sets = meta["sets"]
    jobs = [(j["set"], j["op"]) for j in meta["jobs"]]
    ops_of = lambda s: [op for js, op in jobs if js == s]
    targets = meta["targets"]
    out, summary = [], []
    say = out.append
    floor3, floor17 = st.wall("probe", "grayscale", "floor3"), st.wall("probe", "grayscale", "floor17")
    if floor3 is not None:
        say(f"Open MPI's floor (dips-run starting a program that only starts MPI, in dips' place): -n 3 {fmt(floor3)} s"
            + (f", -n 17 {fmt(floor17)} s" if floor17 is not None else "")
            + ". 'at floor': the ratio of a dips whose job took exactly the plain loop's time and that added "
              "nothing to that floor.")

    def at_floor(plain):
        return ratio(plain, plain + floor3) if plain is not None and floor3 is not None else None

    def comparison(tid, title, rows_spec, base, need_of, extra_plain1=False):
        """rows_spec: [(label, set, op)]; dips3 against the `base` plain configuration."""
        say(f"\n== {tid}: {title} ==")
        head = ["job", "dips s", f"{base} s", "ratio", "at floor", "launch excl."]
        if extra_plain1:
            head += ["plain1 s", "vs plain1"]
        head += ["target", "verdict", "runs d/p", "other max"]
        rows, ratios, floors, met = [], [], [], 0
        for label, s, op in rows_spec:
            d, p, own = st.wall(s, op, "dips3"), st.wall(s, op, base), st.own(s, op, "dips3")
            r, f = ratio(p, d), at_floor(p)
            need = need_of(op)
            v = verdict(r, need)
            met += v == "met"
            if r is not None:
                ratios.append(r)
            if f is not None:
                floors.append(f)
            row = [label, fmt(d), fmt(p), fmt(r, ".2f", "x"), fmt(f, ".2f", "x"), fmt(ratio(p, own), ".2f", "x")]
            if extra_plain1:
                p1 = st.wall(s, op, "plain1")
                row += [fmt(p1), fmt(ratio(p1, d), ".2f", "x")]
            row += [f">= {need:.2f}x", v, f"{st.count(s, op, 'dips3')}/{st.count(s, op, base)}",
                    st.other(s, op, "dips3", base)]
            rows.append(row)
        say(table(head, rows))
        measured = span(ratios) + (f" (at floor {span(floors)})" if floors else "")
        summary.append([tid, TARGETS[tid], measured, f"{met} of {len(rows_spec)} met"])

    if "T1" in targets:
        s = sets["large"]
        comparison("T1", f"{s['label']} ({s['tasks']} photos, {s['megapixels']:.0f} MP); dips -n 3 vs the plain "
                   f"2-process loop (and the 1-process loop)",
                   [(op, "large", op) for op in ops_of("large") if op in T1_OPS], "plain2", lambda op: 1.0, True)
    if "T2" in targets:
        s = sets["medium-x4"]
        comparison("T2", f"{s['label']} ({s['tasks']} tasks, {s['megapixels']:.0f} MP); outside wall, mpirun "
                   f"launch included", [(op, "medium-x4", op) for op in ops_of("medium-x4")], "plain2", lambda op: 1.0)
    if "T3" in targets:
        s = sets["thumbs"]
        comparison("T3", f"{s['label']} ({s['tasks']} files)",
                   [(op, "thumbs", op) for op in ops_of("thumbs") if op in T3_OPS], "plain2", lambda op: 0.8)
    if "T4" in targets:
        rows = [(f"{s[7:].upper()} {op}", s, op) for s in ("xlarge-jpg", "xlarge-png") for op in T4_NEEDS]
        comparison("T4", f"one image ({sets['xlarge-jpg']['megapixels']:.1f} MP), JPEG and PNG; dips -n 3 vs the plain "
                   f"1-process loop", rows, "plain1", lambda op: T4_NEEDS[op])
    if "T5" in targets:
        render_t5(st, runs, sets, jobs, say, summary)
    if "T6" in targets:
        render_t6(st, sets, say, summary)
    if "T7" in targets:
        render_t7(st, sets, jobs, say, summary, floor3, floor17)

    if checks:
        bad = [c for c in checks if c["differ_count"] + c["missing_count"]]
        summary.append(["pixels", "every dips output has the plain loop's pixels (round 1)",
                        f"{sum(c['total'] for c in checks):,} outputs of {len(checks)} runs",
                        "ok" if not bad else f"DIFFERENT in {len(bad)} runs"])
    say("\n== summary ==")
    if meta["quick"]:
        say("QUICK MODE: small stand-ins for every set, 1 round by default: this checks the script end to end; "
            "its numbers and verdicts say nothing about the targets.")
    say(table(["target", "requirement", "measured", "verdict"], summary))
    say(render_checks(checks))
    say(render_noise(runs, st))
    return "\n".join(out)


# dips runs of up to this many tasks get their pipeline's shape recorded (read from the report after the run,
# outside the timing: a second or so for 20,000 tasks).
SHAPE_MAX_TASKS = 20000


def render_shapes(runs, say):
    """The thumbnail runs' results per message, round by round: a run far under the others went in the mode
    of one or two results a message (docs/benchmarks.md, thirteenth stop)."""
    rows = []
    for r in runs:
        if r.get("set") == "thumbs" and "shape" in r and "error" not in r:
            rows.append([str(r["round"]), r["op"], r["config"], f"{r['dips']['wall_s']:.2f}", f"{r['dips']['rank0_cpu_s']:.3f}",
                         str(r["shape"]["result_messages"]), f"{r['shape']['pieces_per_result_message']:.1f}"])
    if rows:
        say("pipeline shape of the thumbnail runs (bench/shape.py reads one report the same way):")
        say(table(["round", "op", "config", "wall_s", "rank0_cpu_s", "result msgs", "results a message"], rows))


def startup_cpu(runs):
    """Rank 0's CPU in a dips run of one small image (median of the probes): MPI_Init and dips' start-up,
    mostly spent before dips' wall_s clock starts."""
    probes = [r for r in runs if r["config"] == "probe" and "error" not in r]
    quiet = [r for r in probes if r.get("other_cores", 0) < QUIET_CORES] or probes
    return benchlib.median(r["dips"]["rank0_cpu_s"] for r in quiet), benchlib.median(r["wall_s"] for r in quiet)


def render_t5(st, runs, sets, jobs, say, summary):
    start, probe_wall = startup_cpu(runs)
    say("\n== T5: rank 0's CPU in the dips -n 3 runs of T1-T3, net of start-up, over dips' wall_s ==")
    say(f"start-up (probe: dips -n 3 on 1 image of small/): rank 0 CPU {fmt(start, '.3f')} s, outside wall "
        f"{fmt(probe_wall)} s")
    rows, shares, met = [], [], 0
    for s, op in jobs:
        if s not in ("large", "medium-x4", "thumbs"):
            continue
        v = st.runs(s, op, "dips3")
        if not v or start is None:
            rows.append([f"{s} {op}", "-", "-", "-", "-", "-", "<= 10%", "no data"])
            continue
        cpu = benchlib.median(r["dips"]["rank0_cpu_s"] for r in v)
        wall = benchlib.median(r["dips"]["wall_s"] for r in v)
        share = benchlib.median(max(0.0, r["dips"]["rank0_cpu_s"] - start) / r["dips"]["wall_s"] for r in v)
        gross = benchlib.median(r["dips"]["rank0_cpu_s"] / r["dips"]["wall_s"] for r in v)
        ok = verdict(share, 0.10, at_most=True)
        met += ok == "met"
        shares.append(share)
        rows.append([f"{s} {op}", f"{cpu:.3f}", f"{max(0.0, cpu - start):.3f}", f"{wall:.2f}", f"{100 * gross:.1f}%",
                     f"{100 * share:.1f}%", "<= 10%", ok])
    say(table(["job", "rank0_cpu_s", "net of start-up", "wall_s", "% core (gross)", "% core (net)", "target",
               "verdict"], rows))
    render_shapes(runs, say)
    summary.append(["T5", TARGETS["T5"], span(shares, 100, ".1f", "%"), f"{met} of {len(rows)} met"])


def render_t6(st, sets, say, summary):
    small, big = sets["tasks-small"], sets["tasks-big"]
    say(f"\n== T6: a manifest of small images (the thumbnails 5 times, grayscale): {small['tasks']:,} tasks vs "
        f"{big['tasks']:,} ==")
    rows, per_task, rss_all = [], {}, []
    for s in ("tasks-small", "tasks-big"):
        n = sets[s]["tasks"]
        v = st.runs(s, "grayscale", "dips3")
        d, p, own = st.wall(s, "grayscale", "dips3"), st.wall(s, "grayscale", "plain2"), st.own(s, "grayscale", "dips3")
        summ = [r["dips"].get("rank0_peak_rss_mb") for r in v]
        polled = [r.get("rank0_vmhwm_mb") for r in v]
        # The polled high-water mark also covers the report page, which rank 0 writes after its summary.
        peaks = [max(x for x in (a, b) if x is not None) for a, b in zip(summ, polled) if a is not None or b is not None]
        if v and len(peaks) == len(v):
            rss, src = max(peaks), ("summary + polled VmHWM" if any(x is not None for x in polled) else "summary")
        else:
            rss, src = None, "-"
        if rss is not None:
            rss_all.append(rss)
        per_task[s] = own / n if own else None
        rows.append([f"{n:,}", fmt(d), fmt(p), fmt(ratio(p, d), ".2f", "x"), fmt(own),
                     fmt(n / own if own else None, ",.0f"), fmt(1e6 * own / n if own else None, ",.0f"),
                     fmt(rss, ".1f") + (f" ({src})" if rss is not None else ""),
                     f"{st.count(s, 'grayscale', 'dips3')}/{st.count(s, 'grayscale', 'plain2')}",
                     st.other(s, "grayscale", "dips3", "plain2")])
    say(table(["tasks", "dips s", "plain2 s", "ratio", "dips own wall_s", "tasks/s (own)", "us/task (own)",
               "rank 0 peak RSS MB (max)", "runs d/p", "other max"], rows))
    growth = ratio(per_task["tasks-big"], per_task["tasks-small"])
    rss_max = max(rss_all) if rss_all else None
    v_rss = verdict(rss_max, RSS_LIMIT_MB, at_most=True)
    v_growth = verdict(growth, PER_TASK_GROWTH, at_most=True)
    say(f"rank 0 peak RSS: {fmt(rss_max, '.1f')} MB (target <= {RSS_LIMIT_MB:.0f}): {v_rss}; per-task time at "
        f"{big['tasks']:,} tasks / at {small['tasks']:,} tasks (dips' own wall_s, launch excluded): "
        f"{fmt(growth, '.3f')} (target <= {PER_TASK_GROWTH:.2f}): {v_growth}")
    both = "met" if v_rss == v_growth == "met" else ("no data" if "no data" in (v_rss, v_growth) else "NOT MET")
    summary.append(["T6", TARGETS["T6"], f"RSS {fmt(rss_max, '.0f')} MB, per-task x{fmt(growth, '.2f')}", both])


def render_t7(st, sets, jobs, say, summary, floor3, floor17):
    s = sets["thumbs"]
    say(f"\n== T7: {s['label']} ({s['tasks']} files): dips -n 17 (16 workers on {os.cpu_count()} cores, "
        f"oversubscribed) vs dips -n 3 ==")
    rows, met, ratios, floors = [], 0, [], []
    for js, op in jobs:
        if js != "thumbs" or op not in T3_OPS:
            continue
        n17, n3 = st.wall(js, op, "dips17"), st.wall(js, op, "dips3")
        o17, o3 = st.own(js, op, "dips17"), st.own(js, op, "dips3")
        r = ratio(n3, n17)  # tasks/s of -n 17 over tasks/s of -n 3
        # the -n 17 run at best: the -n 3 run plus what 14 more ranks add to Open MPI's floor
        f = ratio(n3, n3 + floor17 - floor3) if None not in (n3, floor3, floor17) else None
        v = verdict(r, 0.8)
        met += v == "met"
        if r is not None:
            ratios.append(r)
        if f is not None:
            floors.append(f)
        rows.append([op, fmt(n17), fmt(n3), fmt(r, ".2f", "x"), fmt(f, ".2f", "x"), fmt(ratio(o3, o17), ".2f", "x"),
                     ">= 0.80x", v, f"{st.count(js, op, 'dips17')}/{st.count(js, op, 'dips3')}",
                     st.other(js, op, "dips17", "dips3")])
    say(table(["op", "dips -n 17 s", "dips -n 3 s", "tasks/s ratio", "at floor", "launch excl.", "target", "verdict",
               "runs 17/3", "other max"], rows))
    measured = span(ratios) + (f" (at floor {span(floors)})" if floors else "")
    summary.append(["T7", TARGETS["T7"], measured, f"{met} of {len(rows)} met"])


def render_checks(checks):
    if not checks:
        return "\n(no correctness check: round 1 did not run, or no dips output had a reference)"
    rows = []
    for c in checks:
        bad = c["differ_count"] + c["missing_count"]
        rows.append([f"{c['set']} {c['op']}", c["config"], c["reference"], c["total"], c["bytes"], c["pixels"],
                     c["differ_count"], c["missing_count"],
                     "ok" if bad == 0 else "DIFFERENT: " + ", ".join((c["differ"] + c["missing"])[:3])])
    return ("\n== correctness (round 1): every dips output against the plain loop's (T7: against dips -n 3) ==\n"
            + table(["job", "dips", "reference", "outputs", "same bytes", "same pixels only", "differ", "missing",
                     "verdict"], rows))


def render_noise(runs, st):
    text = ["\nHow to read: walls are medians (seconds, outside, from before launch to the end of the last process) "
            "over the quiet runs, i.e. those during which other processes used under "
            f"{QUIET_CORES} cores; 'runs d/p' counts them (dips/plain), '!' = none was quiet, median of all. "
            "ratio = plain wall / dips wall (above 1 dips is faster); 'launch excl.' uses dips' own wall_s from its "
            "report instead (without mpirun's launch and teardown); 'at floor': the ratio at Open MPI's floor "
            "(the line at the top). 'other max': the most CPU, in cores, other "
            "processes used during those runs."]
    other = [r.get("other_cores", 0) for r in runs]
    if other:
        text.append(f"other load over all {len(runs)} runs: median {statistics.median(other):.2f} cores, max "
                    f"{max(other):.2f}; VM steal max {max(r.get('steal_cores', 0) for r in runs):.2f} cores")
    failed = [r for r in runs if "error" in r]
    if failed:
        text.append(f"!! {len(failed)} run(s) failed and are left out of the medians:")
        text += [f"   round {r['round']} {r['set']} {r['op']} {r['config']}: {r['error']} (log {r['log']})"
                 for r in failed]
    return "\n".join(text)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        sys.exit(cmd_run(sys.argv[2:]))
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        print(render(sys.argv[2]))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
