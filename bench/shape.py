#!/usr/bin/env python3
"""The shape of dips' pipeline, run after run: how many pieces travel per message, how many each worker holds,
how long a piece takes. Made to catch a rare mode of the thumbnail job (docs/benchmarks.md, "A slow mode") in
which every result travels alone and every refill is one file: it runs one job again and again and flags every
run whose wall or messages depart from the median of the runs.

  bench/shape.py [--runs N] [--np N] [--keep DIR] -- DIPS_ARGS...     runs scripts/dips-run -n NP N times
  bench/shape.py --report FILE...                                     reads reports written before

Example: bench/shape.py --runs 40 -- --op grayscale bench/.corpus/thumbs

Messages are counted from the report: pieces sent to one worker at the same instant (the report's `sent`,
0.1 ms steps) went in one work message; pieces whose results rank 0 took at the same instant (`done`) came in
one result message, so the result count is a lower bound where two messages were read within 0.1 ms.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

DIPS_RUN = os.path.join(HERE, "..", "scripts", "dips-run")


def line(name, job):
    totals = benchlib.shape_totals(job)
    pieces, work, results = totals["pieces"], totals["work_messages"], totals["result_messages"]
    held = "/".join(f"{r['in_flight']:g}" for r in job["workers"])
    compute = "/".join(f"{r['compute_ms']:.3f}" for r in job["workers"])
    return (f"{name:>12}  wall {job['wall_s']:6.2f} s  rank0 {job['rank0_cpu_s']:.3f} s  pieces {pieces:6d}  "
            f"work msgs {work:6d} ({pieces / max(work, 1):5.1f} each)  result msgs {results:6d} ({totals['pieces_per_result_message']:5.1f} each)  "
            f"held {held}  compute ms {compute}")


def flag(jobs):
    """The runs that depart from the others: wall over 1.5x the median, or under half the median's pieces per
    result message."""
    walls = statistics.median(j["wall_s"] for _, j in jobs)
    per_result = [benchlib.shape_totals(j)["pieces_per_result_message"] for _, j in jobs]
    typical = statistics.median(per_result)
    return [name for (name, j), mine in zip(jobs, per_result) if j["wall_s"] > 1.5 * walls or mine < 0.5 * typical]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--np", type=int, default=3)
    parser.add_argument("--keep", help="keep each run's report in this folder")
    parser.add_argument("--report", nargs="+", help="read these reports instead of running dips")
    parser.add_argument("dips_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    jobs = []
    if args.report:
        jobs = [(os.path.basename(path), benchlib.pipeline_shape(path)) for path in args.report]
        for name, job in jobs:
            print(line(name, job))
    else:
        dips_args = args.dips_args[1:] if args.dips_args[:1] == ["--"] else args.dips_args
        if not dips_args:
            parser.error("give the job after --, e.g. -- --op grayscale bench/.corpus/thumbs")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
        for run in range(1, args.runs + 1):
            out = tempfile.mkdtemp(prefix="dips-shape-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
            try:
                start = time.monotonic()
                rc = subprocess.run([DIPS_RUN, "-n", str(args.np), "--", "--quiet", "--output", out, *dips_args],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                outside = time.monotonic() - start
                report = os.path.join(out, "report.jsonl")
                if rc != 0 or not os.path.exists(report):
                    print(f"run {run}: dips-run exited {rc}; no shape", flush=True)
                    continue
                job = benchlib.pipeline_shape(report)
                jobs.append((f"run {run}", job))
                print(line(f"run {run}", job) + f"  outside {outside:.2f} s", flush=True)
                if args.keep:
                    shutil.copy(report, os.path.join(args.keep, f"report-{run}.jsonl"))
            finally:
                shutil.rmtree(out, ignore_errors=True)
    if len(jobs) >= 3:
        odd = flag(jobs)
        print(f"departing from the median: {', '.join(odd) if odd else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
