#!/usr/bin/env python3
"""bench/costs.sh's driver: what one task and one piece cost rank 0, the network and the workers, for each job
shape and data path. The numbers feed the scaling model (bench/model.py, docs/scaling.md).

  costs.py run --bin DIR --work DIR --results FILE.json [--corpus DIR] [--quick] [--shapes A,B] [--io shared,mpi]
               [--rounds N] [--callgrind] [--sweep 2,8,32] [--btl tcp|vader] [--quiet-wait S] [--command T]
  costs.py table FILE.json          prints the tables again

Every run: BIN/dips-run -n 3 (rank 0 + 2 workers, one thread each) over TCP on lo (--btl tcp, the default:
rank 0's sends and receives then pay the kernel's TCP path, as on a cluster) -- --quiet --io IO --manifest M.
Per task = (run - baseline) / tasks, where the baseline is the same launch on one thumbnail with the same
--io: it removes mpirun's launch, MPI start-up and rank 0's greeting, which a job pays once.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import benchlib
import scalejobs

SLOW_FAULT_S = 4.0  # include/dips/fault.h kSlowFaultSeconds: a "slow" piece computes this much longer


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Runner:
    def __init__(self, args):
        self.args = args
        self.bin = Path(args.bin)
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.cpu_dir = self.work / "cpu"
        self.cpu_dir.mkdir(exist_ok=True)
        wrapper = scalejobs.rank_wrapper(self.work / "dips-ranks", self.bin / "dips", self.cpu_dir)
        self.env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.hugetlb=1", DIPS_BIN=str(wrapper))
        self.count = 0
        self.failures = 0

    def prefix(self, ranks, grace=None):
        p = [str(self.bin / "dips-run"), "-n", str(ranks)]
        if self.args.btl == "tcp":
            p += ["--mpirun-arg", "--mca", "--mpirun-arg", "btl", "--mpirun-arg", "self,tcp",
                  "--mpirun-arg", "--mca", "--mpirun-arg", "btl_tcp_if_include", "--mpirun-arg", "lo"]
        if grace:
            p += ["--grace", str(grace)]
        return p + ["--"]

    def run(self, shape, io, ranks=3, env=None, extra=(), grace=None, label=""):
        self.count += 1
        if "--ping-timeout" not in extra:
            # A worker (or rank 0) starved for seconds on a busy machine is not lost; pings are not measured here.
            extra = list(extra) + ["--ping-timeout", "10", "--orphan-timeout", "60"]
        out = self.work / f"out{self.count}"
        log = self.work / f"run{self.count}.log"
        waited, load = scalejobs.wait_for_quiet(self.args.quiet_wait)
        rec = scalejobs.run_job(self.prefix(ranks, grace), shape, io, out, self.work, env or self.env, extra, log=log,
                                cpu_dir=self.cpu_dir)
        rec.update({"ranks": ranks, "tasks": len(shape.tasks), "label": label, "quiet_wait_s": round(waited, 1)})
        shutil.rmtree(out, ignore_errors=True)
        if "error" in rec:
            self.failures += 1
            print(f"costs: {label or shape.name} --io {io} failed ({rec['error']}); log: {log}", file=sys.stderr)
        else:
            log.unlink(missing_ok=True)
        print(f"costs: {label or shape.name:<28} --io {io:<6} -n {ranks}: {rec.get('wall_s')} s, rank 0 CPU "
              f"{rec.get('rank0_cpu_s')} s, other load {rec.get('other_cores')} cores", file=sys.stderr)
        return rec


def measure(args):
    runner = Runner(args)
    cache = Path(args.cache)
    shapes = [s for s in args.shapes.split(",") if s]
    ios = [i for i in args.io.split(",") if i]
    for s in shapes:
        if s not in scalejobs.SHAPES:
            sys.exit(f"costs: unknown shape '{s}' (known: {', '.join(scalejobs.SHAPES)})")
    corpus = None if args.quick else args.corpus
    result = {"meta": meta(args), "runs": [], "callgrind": [], "sweep": [], "idle": []}

    def save():
        Path(args.results).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")

    # rank 0 + 2 one-thread workers: one guard keeps the last task of a batch whole (Shape.with_guards)
    built = {s: scalejobs.build_shape(s, corpus, cache, args.quick).with_guards(2) for s in set(shapes) | {"thumbs"}}
    baseline = built["thumbs"].first(1)
    for rnd in range(1, args.rounds + 1):
        for io in ios:
            rec = runner.run(baseline, io, label="baseline (1 thumbnail)")
            result["runs"].append(dict(rec, kind="baseline", round=rnd))
            for s in shapes:
                rec = runner.run(built[s], io)
                result["runs"].append(dict(rec, kind="job", round=rnd))
            save()

    if args.callgrind:
        if not shutil.which("valgrind"):
            sys.exit("costs: --callgrind needs valgrind (apt-get install valgrind)")
        cg_dir = runner.work / "callgrind"
        cg_dir.mkdir(exist_ok=True)
        wrapper = scalejobs.rank_wrapper(runner.work / "dips-callgrind", runner.bin / "dips", runner.cpu_dir, cg_dir)
        env = dict(runner.env, DIPS_BIN=str(wrapper))
        slack = ["--ping-timeout", "30", "--orphan-timeout", "600"]  # rank 0 runs ~50x slower under callgrind

        def counted(shape, io, ranks=3, label=""):
            rec = runner.run(shape, io, ranks, env, slack, grace=300, label=(label or shape.name) + " [callgrind]")
            rec["ir"], rec["ir_build"] = scalejobs.callgrind_total(cg_dir)
            return rec

        for io in ios:
            result["callgrind"].append(dict(counted(baseline, io, label="baseline"), kind="baseline"))
            for s in shapes:
                shape = scalejobs.build_shape(s, corpus, cache, args.quick, callgrind=True).with_guards(2)
                result["callgrind"].append(dict(counted(shape, io), kind="job"))
            save()
        # Rank 0's instructions per task as the workers grow: what a larger cluster adds to every task.
        sweep = [int(n) for n in args.sweep.split(",") if n]
        thumbs = scalejobs.build_shape("thumbs", corpus, cache, args.quick, callgrind=True).with_guards(2)
        for n in sweep:
            base = counted(baseline, "shared", n + 1, label=f"baseline, {n} workers")
            job = counted(thumbs, "shared", n + 1, label=f"sweep, {n} workers")
            result["sweep"].append({"workers": n, "baseline": base, "job": job})
            save()
        result["calibration"] = calibrate(runner, built["thumbs"].tasks)
        save()

    # Rank 0's CPU while it waits, with few and with many workers: one task made 4 s slow (DIPS_FAULT slow).
    # At the default ping interval (0.2 s) and at 0.01 s (20x the pings): the difference gives a ping's cost.
    sweep = [int(n) for n in args.sweep.split(",") if n]
    for n in sorted({2, max(sweep or [2])}):
        for interval in ("0.2", "0.01") if len(sweep) else ("0.2",):
            env = dict(runner.env, DIPS_FAULT="rank:1,after:0,kind:slow")
            rec = runner.run(baseline, "shared", n + 1, env=env, extra=["--ping-interval", interval],
                             label=f"idle 4 s, {n} workers, pings {interval} s")
            result["idle"].append(dict(rec, workers=n, ping_interval=float(interval)))
    save()
    derive(result)
    save()
    print(table(result))
    return 1 if runner.failures else 0


def merge(out, first, more):
    """The first result with the runs of the others added: each keeps its own baselines (derive pairs every
    job with the baselines of its data path), and the meta says where each part came from."""
    result = json.loads(Path(first).read_text())
    result["meta"]["merged"] = []
    for path in more:
        extra = json.loads(Path(path).read_text())
        result["runs"] += extra["runs"]
        result["meta"]["merged"].append({"file": Path(path).name, "date": extra["meta"]["date"],
                                         "loadavg": extra["meta"]["loadavg"], "command": extra["meta"]["command"]})
    derive(result)
    Path(out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(table(result))
    return 0


def calibrate(runner, thumbs):
    """Seconds per instruction of dips' own code on this machine, to turn callgrind's counts into CPU time:
    `dips --dry-run` (one process, no MPI: it reads every input's header and plans the job) on 2,000 and on
    6,000 thumbnail tasks, user CPU time natively (the least of 3 runs) against instructions under callgrind."""
    import resource
    import subprocess
    dips = str(runner.bin / "dips")
    out = {}
    for count in (2000, 6000):
        shape = scalejobs.Shape("thumbs", scalejobs.copies([t[0] for t in thumbs], count))
        manifest = shape.manifest(runner.work / f"calibrate-{count}.tsv")
        cmd = [dips, "--dry-run", "--manifest", str(manifest), "--output", str(runner.work / "calibrate-out")]
        users = []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            users.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before)
        cg = runner.work / "callgrind" / "calibrate"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}.%p"] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        ir = None
        for f in cg.parent.glob("calibrate.*"):
            for line in f.read_text(errors="replace").splitlines():
                if line.startswith(("summary:", "totals:")):
                    ir = int(line.split()[1])
                    break
            f.unlink()
        out[count] = {"user_s": min(users), "ir": ir}
        print(f"costs: calibration, dry run of {count} tasks: user {min(users):.3f} s (least of 3), {ir} Ir", file=sys.stderr)
    a, b = out[2000], out[6000]
    s_per_ir = (b["user_s"] - a["user_s"]) / (b["ir"] - a["ir"]) if a["ir"] and b["ir"] and b["ir"] > a["ir"] else None
    return {"runs": out, "s_per_ir": s_per_ir}


def meta(args):
    load = os.getloadavg()
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": args.command, "revision": args.revision,
            "nproc": os.cpu_count(), "loadavg": [round(x, 2) for x in load], "kernel": platform.release(),
            "btl": args.btl, "quick": args.quick, "corpus": None if args.quick else args.corpus,
            "rounds": args.rounds, "ranks": 3}


def derive(result):
    """Per-task and per-piece costs from the runs: medians over rounds, net of the baseline with the same io.

    Rank 0's CPU per task (c0, what the model uses) is the larger of two estimates: its CPU time (rusage) net of
    the baseline and of its polling while it waits for the workers (the idle rate measured with 2 workers times
    the job's extra wall time), and its instructions under callgrind times this machine's seconds per
    instruction (calibrate). The first sees the kernel's work (files, TCP) but is noisy on a busy machine; the
    second is repeatable but sees user space only."""
    # Waiting: rank 0's and the workers' CPU per second of the idle runs, net of the baseline (same launch, one
    # thumbnail) so that start-up is left out.
    base = [r for r in result["runs"] if "error" not in r and r["kind"] == "baseline" and r["io"] == "shared"]
    b_cpu = median(r["rank0_cpu_s"] for r in base) or 0.0
    b_wall = median(r["wall_s"] for r in base) or 0.0
    b_workers = median(r.get("workers_cpu_s") for r in base) or 0.0
    idle = [r for r in result["idle"] if "error" not in r and r["wall_s"] > b_wall]
    rate = {(r["workers"], r["ping_interval"]): max(0.0, r["rank0_cpu_s"] - b_cpu) / (r["wall_s"] - b_wall) for r in idle}
    result["idle_cpu"] = [{"workers": w, "ping_interval": i, "rank0_cpu_per_s": v} for (w, i), v in sorted(rate.items())]
    idle_rate = rate.get((2, 0.2), 0.0)
    result["idle_cpu_base"] = idle_rate
    two = [r for r in idle if r["workers"] == 2 and r["ping_interval"] == 0.2 and r.get("workers_cpu_s") is not None]
    if two:  # one of the two workers sleeps in its piece; the other polls: CPU per second of a waiting worker
        result["worker_idle_cpu"] = max(0.0, two[0]["workers_cpu_s"] - b_workers) / (2 * (two[0]["wall_s"] - b_wall))
    ns = sorted({w for w, _ in rate})
    if len(ns) >= 2 and all((n, i) in rate for n in (ns[0], ns[-1]) for i in (0.2, 0.01)):
        lo, hi = ns[0], ns[-1]
        more = hi - lo
        # Per worker at the default interval: pings (5 a second) and whatever else grows with the workers.
        result["idle_cpu_per_worker"] = max(0.0, (rate[(hi, 0.2)] - rate[(lo, 0.2)]) / more)
        extra_pings = more * (1 / 0.01 - 1 / 0.2)  # a second, from 20x the pings on the added workers
        growth = (rate[(hi, 0.01)] - rate[(lo, 0.01)]) - (rate[(hi, 0.2)] - rate[(lo, 0.2)])
        result["cpu_per_ping"] = max(0.0, growth / extra_pings)
    s_per_ir = (result.get("calibration") or {}).get("s_per_ir")
    result["rank0_s_per_ir"] = s_per_ir

    ok = [r for r in result["runs"] if "error" not in r]
    costs = []
    for io in sorted({r["io"] for r in ok}):
        base = [r for r in ok if r["io"] == io and r["kind"] == "baseline"]
        b_cpu = median(r["rank0_cpu_s"] for r in base) or 0.0
        b_wall = median(r["wall_s"] for r in base) or 0.0
        b_workers = median(r["workers_cpu_s"] for r in base) or 0.0
        for shape in dict.fromkeys(r["shape"] for r in ok if r["kind"] == "job"):
            runs = [r for r in ok if r["io"] == io and r["kind"] == "job" and r["shape"] == shape]
            if not runs:
                continue
            n = runs[0]["tasks"]
            per = lambda key: median(r[key] for r in runs) / n
            pieces = median(r["pieces"] for r in runs)
            gross = max(0.0, median(r["rank0_cpu_s"] for r in runs) - b_cpu)
            waiting = idle_rate * max(0.0, median(r["wall_s"] for r in runs) - b_wall)
            c = {"shape": shape, "io": io, "op": runs[0]["op"], "tasks": n, "runs": len(runs),
                 "pieces_per_task": pieces / n, "megapixels_per_task": per("megapixels"),
                 "rank0_cpu_s_per_task_gross": gross / n,
                 "rank0_cpu_s_per_task_rusage": max(0.0, gross - waiting) / n,
                 "bytes_out_per_task": per("bytes_out"), "bytes_in_per_task": per("bytes_in"),
                 "worker_compute_s_per_task": per("compute_ms") / 1000,
                 "worker_cpu_s_per_task": max(0.0, median(r["workers_cpu_s"] for r in runs) - b_workers) / n,
                 "input_bytes_per_task": per("input_bytes"), "output_bytes_per_task": per("output_bytes"),
                 "wall_s": median(r["wall_s"] for r in runs), "other_cores_max": max(r["other_cores"] for r in runs),
                 "kinds": {k: {key: v[key] / n for key in v} for k, v in runs[0]["kinds"].items()}}
            cg = [r for r in result["callgrind"] if "error" not in r and r.get("ir") is not None and r["io"] == io]
            cg_base = [r["ir"] for r in cg if r["kind"] == "baseline"]
            cg_job = [r for r in cg if r["kind"] == "job" and r["shape"] == shape]
            cg_base_build = [r.get("ir_build") or 0 for r in cg if r["kind"] == "baseline"]
            if cg_base and cg_job:
                job = cg_job[0]
                build = max(0, (job.get("ir_build") or 0) - cg_base_build[0])
                c["rank0_ir_per_task"] = (job["ir"] - cg_base[0]) / job["tasks"]
                c["rank0_ir_build_per_task"] = build / job["tasks"]
                c["rank0_ir_run_per_task"] = c["rank0_ir_per_task"] - c["rank0_ir_build_per_task"]
                c["rank0_ir_per_piece"] = c["rank0_ir_run_per_task"] * job["tasks"] / max(1, job["pieces"])
                if s_per_ir:
                    c["rank0_cpu_s_per_task_ir"] = c["rank0_ir_run_per_task"] * s_per_ir
                    c["rank0_build_s_per_task"] = c["rank0_ir_build_per_task"] * s_per_ir
            c["rank0_cpu_s_per_task"] = max(c["rank0_cpu_s_per_task_rusage"], c.get("rank0_cpu_s_per_task_ir", 0.0))
            c["rank0_cpu_s_per_piece"] = c["rank0_cpu_s_per_task"] / c["pieces_per_task"] if pieces else None
            costs.append(c)
    result["costs"] = costs
    sweep = []
    for s in result["sweep"]:
        if "error" in s["job"] or "error" in s["baseline"] or s["job"].get("ir") is None or s["baseline"].get("ir") is None:
            continue
        sweep.append({"workers": s["workers"], "ir_per_task": (s["job"]["ir"] - s["baseline"]["ir"]) / s["job"]["tasks"]})
    result["sweep_ir"] = sweep
    if len(sweep) >= 2:  # least squares: instructions per task = a + b * workers
        xs, ys = [s["workers"] for s in sweep], [s["ir_per_task"] for s in sweep]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        result["ir_per_task_per_worker"] = b
        result["ir_per_task_at_0"] = my - b * mx


def fmt(x, unit="", digits=3):
    if x is None:
        return "-"
    if unit == "us":
        return f"{x * 1e6:,.0f}"
    if unit == "ms":
        return f"{x * 1e3:,.1f}"
    if unit == "B":
        return f"{x / 1e6:,.2f} MB" if x >= 1e6 else f"{x / 1e3:,.1f} kB" if x >= 1e3 else f"{x:,.0f} B"
    if unit == "M":
        return f"{x / 1e6:,.2f}M"
    return f"{x:,.{digits}g}"


def table(result):
    m = result["meta"]
    lines = [f"# per-piece costs of dips ({'QUICK MODE: generated stand-ins, the numbers check the script only' if m['quick'] else 'corpus ' + str(m['corpus'])})",
             f"date {m['date']}; {m['revision']}; {m['nproc']} cores, load average at start {m['loadavg']}; "
             f"rank 0 + 2 workers, btl {m['btl']}; {m['rounds']} round(s), medians",
             "NOISE: a shared machine; 'other' is the CPU other processes used during a shape's runs (cores, max).",
             "",
             "| shape | io | op | tasks | pieces/task | MP/task | rank 0 CPU us/task: gross / net of polling / from Ir | rank 0 us/task (c0) | rank 0 us/piece | rank 0 Ir/task: running + building the job "
             "| bytes out/task | bytes in/task | worker CPU ms/task | worker compute ms/task | files read+written/task | other |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in result.get("costs", []):
        lines.append(f"| {c['shape']} | {c['io']} | {c['op']} | {c['tasks']} | {fmt(c['pieces_per_task'])} | "
                     f"{fmt(c['megapixels_per_task'])} | {fmt(c['rank0_cpu_s_per_task_gross'], 'us')} / "
                     f"{fmt(c['rank0_cpu_s_per_task_rusage'], 'us')} / {fmt(c.get('rank0_cpu_s_per_task_ir'), 'us')} | "
                     f"{fmt(c['rank0_cpu_s_per_task'], 'us')} | "
                     f"{fmt(c['rank0_cpu_s_per_piece'], 'us')} | {fmt(c.get('rank0_ir_run_per_task'), 'M')} + "
                     f"{fmt(c.get('rank0_ir_build_per_task'), 'M')} | "
                     f"{fmt(c['bytes_out_per_task'], 'B')} | {fmt(c['bytes_in_per_task'], 'B')} | "
                     f"{fmt(c['worker_cpu_s_per_task'], 'ms')} | {fmt(c['worker_compute_s_per_task'], 'ms')} | "
                     f"{fmt(c['input_bytes_per_task'] + c['output_bytes_per_task'], 'B')} | {c['other_cores_max']:.2f} |")
    lines += ["",
              "rank 0 CPU: gross = the report's rank0_cpu_s net of the baseline, per task (its file threads with --io mpi",
              "  and its kernel time for sends and receives included); net of polling = minus what it spends polling while",
              "  it waits (the idle rate below times the extra wall time); from Ir = rank 0's instructions under callgrind,",
              "  net of the baseline (user space only) and of building the job (dips::build_job, before the coordinator",
              "  starts: the model adds it apart), times the calibrated seconds per instruction; c0 = the larger of",
              "  the last two: the model's cost per task while the job runs. bytes: payload to and from the workers (the report's bytes_out/bytes_in; names and",
              "  headers not counted). worker CPU: CPU time of the worker processes, net of the baseline (the model uses it);",
              "  worker compute: the pieces' compute_ms, wall time on the worker threads (inflated on a busy machine)."]
    banded = [c for c in result.get("costs", []) if c["pieces_per_task"] > 1]
    if banded:
        lines += ["", "pieces of the banded shapes, per task (kind: count, worker compute, bytes out, bytes in):"]
        for c in banded:
            parts = [f"{k}: {v['n']:.0f}, {v['compute_ms']:.0f} ms, {fmt(v['bytes_out'], 'B')}, {fmt(v['bytes_in'], 'B')}"
                     for k, v in c["kinds"].items()]
            lines.append(f"  {c['shape']} --io {c['io']}: " + "; ".join(parts))
    if result.get("sweep_ir"):
        lines += ["", "rank 0 instructions per thumbnail task (--io shared) as workers grow (callgrind):"]
        lines += [f"  {s['workers']:>4} workers: {fmt(s['ir_per_task'], 'M')} Ir/task" for s in result["sweep_ir"]]
        if "ir_per_task_per_worker" in result:
            lines.append(f"  fit: {result['ir_per_task_at_0']:,.0f} + {result['ir_per_task_per_worker']:,.0f} x workers Ir per task")
    cal = result.get("calibration")
    if cal and cal.get("s_per_ir"):
        lines += ["", f"calibration (dips --dry-run, user time against instructions): {cal['s_per_ir'] * 1e9:.3f} ns per instruction"]
    if result.get("worker_idle_cpu") is not None:
        lines += ["", f"a waiting worker's CPU (polling rank 0): {result['worker_idle_cpu'] * 100:.2f}% of a core"]
    if result.get("idle_cpu"):
        lines += ["", "rank 0 CPU while it waits 4 s for a piece (pings, polling; net of start-up), share of one core:"]
        lines += [f"  {i['workers']:>4} workers, a ping every {i['ping_interval']} s: {i['rank0_cpu_per_s'] * 100:.2f}%"
                  for i in result["idle_cpu"]]
        if "idle_cpu_per_worker" in result:
            lines.append(f"  per worker at the default 0.2 s: {result['idle_cpu_per_worker'] * 1e6:.1f} us of CPU per second; "
                         f"one ping (from the 0.01 s runs): {result['cpu_per_ping'] * 1e6:.1f} us")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--cache", required=True)
    r.add_argument("--results", required=True)
    r.add_argument("--corpus")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--shapes", default="thumbs,photos,large,xlarge")
    r.add_argument("--io", default="shared,mpi")
    r.add_argument("--rounds", type=int, default=1)
    r.add_argument("--callgrind", action="store_true")
    r.add_argument("--sweep", default="2,8,32")
    r.add_argument("--btl", choices=["tcp", "vader"], default="tcp")
    r.add_argument("--quiet-wait", type=float, default=0)
    r.add_argument("--command", default="")
    r.add_argument("--revision", default="")
    t = sub.add_parser("table")
    t.add_argument("results")
    m = sub.add_parser("merge", help="OUT A B...: A with the job runs of B... added (e.g. the shapes that failed "
                                     "on a busy machine, run again), costs derived again")
    m.add_argument("out")
    m.add_argument("first")
    m.add_argument("more", nargs="+")
    args = p.parse_args()
    if args.cmd == "table":
        print(table(json.loads(Path(args.results).read_text())))
        return 0
    if args.cmd == "merge":
        return merge(args.out, args.first, args.more)
    if not args.quick and not args.corpus:
        sys.exit("costs: --corpus DIR or --quick")
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
