#!/usr/bin/env python3
"""Helpers for bench/faults.sh (Python 3 standard library only; the load measurement is benchlib's).

  faults_table.py pieces DRY_RUN_OUTPUT
        prints the total number of pieces in a `dips --dry-run` plan (sum of "(N pieces" per task)
  faults_table.py run RECORD_JSON RESULTS_JSONL REPORT LOG -- CMD...
        runs CMD with its stderr read line by line, each line stamped with time.monotonic() as it
        arrives (LOG gets "+SECONDS LINE"); appends to RESULTS_JSONL one JSON line: RECORD_JSON merged
        with the exit code, the outside wall time, the CPU time of CMD and all its descendants, the CPU
        other processes used meanwhile, dips' report summary (REPORT's last line), and, when the stderr
        shows a fault, the stamps of "injects 'kill'" and "worker rank R lost" and their difference
        (detect_s), and the pieces given a copy while their worker was suspect (the report's
        piece_copied lines). Exits with CMD's exit code.
  faults_table.py table RESULTS_JSONL
        prints the tables (medians over rounds) and a verdict on the ping traffic's cost
"""
import json
import os
import re
import select
import statistics
import subprocess
import sys
import time

from benchlib import LoadMeter, report_summary

INJECT_RE = re.compile(r"DIPS_FAULT: rank (\d+) injects '(\w+)' now")
LOST_RE = re.compile(r"worker rank (\d+) lost \(([^)]*)\); (\d+) pieces? handed to the others, (\d+) workers? left")
RETRY_RE = re.compile(r"dips-run: the job did not finish; retry 1 of")


# ----------------------------------------------------------------------------- pieces
def cmd_pieces(path):
    """The pieces of a run's tasks, from its report (every kind: decode, bands, finish, encoded bands)."""
    total = 0
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if isinstance(record.get("pieces"), list):
                total += len(record["pieces"])
    print(total)


# ----------------------------------------------------------------------------- run
def cmd_run(args):
    record = json.loads(args[0])
    results, report, log_path = args[1], args[2], args[3]
    if args[4] != "--":
        sys.exit("faults_table run: expected -- before the command")
    cmd = args[5:]
    meter = LoadMeter()
    t0 = meter.t0
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fd = proc.stderr.fileno()
    stamped = []  # (monotonic seconds, line)
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic()  # the time the chunk arrived: every line completed in it gets this stamp
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            stamped.append((now, line.decode("utf-8", "replace")))
    if pending:
        stamped.append((time.monotonic(), pending.decode("utf-8", "replace")))
    code = proc.wait()
    load = meter.read()
    wall = load["wall_s"]
    with open(log_path, "w") as log:
        for stamp, line in stamped:
            log.write(f"+{stamp - t0:9.4f} {line}\n")
    record.update({"exit": code, "outer_wall_s": round(wall, 3), "cpu_s": load["cpu_s"],
                   "other_cores": load["other_cores"]})
    inject = next(((s, m) for s, l in stamped for m in [INJECT_RE.search(l)] if m), None)
    lost = next(((s, m) for s, l in stamped for m in [LOST_RE.search(l)] if m), None)
    if inject:
        record["inject_at_s"] = round(inject[0] - t0, 4)
        record["inject_rank"] = int(inject[1].group(1))
    if lost:
        record["lost_at_s"] = round(lost[0] - t0, 4)
        record["lost_rank"] = int(lost[1].group(1))
        record["requeued"] = int(lost[1].group(3))
    retry = next((s for s, l in stamped if RETRY_RE.search(l)), None)
    if inject and retry is not None:
        record["retry_after_s"] = round(retry - inject[0], 4)
    if inject and lost:
        record["detect_s"] = round(lost[0] - inject[0], 4)
    summary = report_summary(report)
    record["summary"] = summary
    record["copied"] = count_copies(report)
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")
    brief = f"exit {code}, wall_s {summary.get('wall_s') if summary else '?'}, outer {wall:.2f} s"
    if "detect_s" in record:
        brief += f", detect {record['detect_s']:.3f} s, {record['requeued']} pieces requeued"
    elif "retry_after_s" in record:
        brief += f", rank 0 killed, dips-run retried {record['retry_after_s']:.2f} s later"
    elif inject:
        brief += f", fault injected, no 'lost' line ({record['copied']} pieces copied)"
    elif record.get("after"):
        brief += ", the fault did not fire"
    brief += f", other load {record['other_cores']:.2f} cores"
    print(brief, file=sys.stderr)
    sys.exit(code)


def count_copies(report):
    """The report's piece_copied lines: pieces a worker with a free thread took from a suspect (--tail-copies)."""
    try:
        with open(report) as f:
            return sum(1 for line in f if line.startswith('{"event":"piece_copied"'))
    except OSError:
        return 0


# ----------------------------------------------------------------------------- table
def med(values):
    return statistics.median(values) if values else float("nan")


def fmt(v, digits=3):
    return "-" if v is None or v != v else f"{v:.{digits}f}"


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


QUIET_CORES = 0.5  # a run during which other processes used less than this is counted as "quiet"


def cmd_table(path):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    ok = lambda r: r.get("summary") is not None and r.get("exit") == 0
    by = {}
    for r in runs:
        by.setdefault(r["config"], []).append(r)
    rounds = max((r.get("round", 0) for r in runs), default=0)
    meta = runs[0] if runs else {}
    print(f"{len(runs)} runs in {rounds} rounds; nproc {os.cpu_count()}")
    other = [r["other_cores"] for r in runs if r.get("other_cores") is not None]
    if other:
        n_quiet = sum(1 for o in other if o < QUIET_CORES)
        print(f"CPU used by other processes during the runs: median {med(other):.2f} cores, max {max(other):.2f} "
              f"(of {os.cpu_count()}); {n_quiet} of {len(other)} runs were quiet (under {QUIET_CORES} cores; "
              f"this includes the kernel's writeback of dips' own outputs, about 0.2-0.3)")
    bad = [r for r in runs if not ok(r)]
    if bad:
        print(f"WARNING: {len(bad)} runs without a summary or with a non-zero exit: "
              + ", ".join(f"{r['config']} round {r.get('round')} exit {r.get('exit')}" for r in bad))
    wall = lambda rs: [r["summary"]["wall_s"] for r in rs if ok(r)]
    quiet = lambda rs: [r for r in rs if r.get("other_cores") is not None and r["other_cores"] < QUIET_CORES]
    kill_configs = sorted((c for c in by if c.startswith(("kill@", "nocopy@"))),
                          key=lambda c: (int(c.split("@")[1]), c.startswith("nocopy@")))

    # 1. detection time
    print("\n1. Detection time after a kill: from the worker's \"injects 'kill'\" line to rank 0's "
          "\"worker rank R lost\" line\n   (stderr lines stamped with time.monotonic() as they arrive)\n")
    rows, all_detect = [], []
    for c in kill_configs:
        rs = by[c]
        d = [r["detect_s"] for r in rs if "detect_s" in r]
        all_detect += d
        at = [r["inject_at_s"] for r in rs if "inject_at_s" in r]
        rq = [r["requeued"] for r in rs if "requeued" in r]
        cp = [r["copied"] for r in rs if "copied" in r]
        rows.append([f"N = {c.split('@')[1]}" + (", --tail-copies off" if c.startswith("nocopy@") else ""), f"{len(d)}/{len(rs)}", fmt(med(at), 2), fmt(med(d)),
                     fmt(min(d) if d else None), fmt(max(d) if d else None), fmt(med(rq), 0), fmt(med(cp), 0)])
    if all_detect:
        rows.append(["all", f"{len(all_detect)}", "", fmt(med(all_detect)), fmt(min(all_detect)),
                     fmt(max(all_detect)), "", ""])
    print_table(["kill once the job has done N pieces", "detected", "kill at (s after launch)", "median s", "min s", "max s",
                 "pieces requeued", "pieces copied"], rows)

    # 2. fault cost
    mid = next((r["mid_config"] for r in runs if r.get("mid_config")), None)
    clean = by.get("clean", [])
    cw, cq = wall(clean), wall(quiet(clean))
    print("\n2. Extra wall time of a fault (dips' summary wall_s), each kill moment against the clean runs\n")
    rows = []
    for c in ["clean"] + kill_configs + (["clean-1w"] if "clean-1w" in by else []):
        rs = by[c]
        w, wq = wall(rs), wall(quiet(rs))
        label = {"clean": "clean, no fault", "clean-1w": "clean, one worker fewer from the start"}.get(c, c)
        if c == mid:
            label += " (mid-job)"
        vs = lambda a, b: "" if c == "clean" or not a or not b else \
            f"{med(a) - med(b):+.2f} s ({100 * (med(a) - med(b)) / med(b):+.1f}%)"
        pr = paired_vs_clean(runs, c) if c != "clean" else []
        rows.append([label, len(w), fmt(med(w), 2), f"{fmt(min(w), 2)}-{fmt(max(w), 2)}" if w else "-", vs(w, cw),
                     f"{med(pr):+.2f} s" if pr else "", len(wq), fmt(med(wq), 2) if wq else "-", vs(wq, cq),
                     fmt(med([r["cpu_s"] for r in rs if ok(r)]), 2)])
    print_table(["configuration", "runs", "wall_s median", "min-max", "vs clean (medians)",
                 "vs clean (per round, median)", "quiet runs", "quiet median", "quiet vs clean",
                 "CPU s, all processes"], rows)
    if mid in by:
        d_mid = [r["detect_s"] for r in by[mid] if "detect_s" in r]
        rq = [r["requeued"] for r in by[mid] if "requeued" in r]
        at = [r["inject_at_s"] for r in by[mid] if "inject_at_s" in r]
        if d_mid:
            print(f"\n{mid}: killed {med(at):.2f} s after launch, detected {med(d_mid):.3f} s later (median), "
                  f"{med(rq):.0f} pieces requeued (median)")
    print("(per round: the kill run minus the mean of the same round's two clean runs)")

    # 3. ping cost
    print("\n3. Cost of the ping traffic: clean runs with --ping-interval 0.2 (default) against "
          "--ping-interval 10 --ping-timeout 30\n")
    ping_rs, noping_rs = by.get("clean", []), by.get("noping", [])
    ping, noping = wall(ping_rs), wall(noping_rs)
    rows = []
    fast_rows = [("pings every 0.01 s (20x, magnified)", by["ping20x"], wall(by["ping20x"]))] if "ping20x" in by else []
    for label, rs, w in [("pings every 0.2 s (default)", ping_rs, ping), ("pings every 10 s", noping_rs, noping)] + fast_rows:
        if not w:
            continue
        cpu = [r["cpu_s"] for r in rs if ok(r)]
        cpu0 = [r["summary"]["rank0_cpu_s"] for r in rs if ok(r)]
        wq = wall(quiet(rs))
        rows.append([label, len(w), fmt(med(w), 2), f"{fmt(min(w), 2)}-{fmt(max(w), 2)}", f"{spread_pct(w):.0f}%",
                     f"{len(wq)}: {fmt(med(wq), 2)}" if wq else "0", fmt(med(cpu), 2),
                     f"{fmt(min(cpu), 2)}-{fmt(max(cpu), 2)}", fmt(med(cpu0), 3)])
    print_table(["configuration", "runs", "wall_s median", "min-max", "spread (max-min)/median",
                 "quiet runs: median", "CPU s, all processes", "CPU min-max", "rank0_cpu_s median"], rows)
    if ping and noping:
        pct = 100 * (med(ping) - med(noping)) / med(noping)
        paired = paired_diffs(runs, "noping", "clean", relative=True)
        print(f"\nwall, medians: {med(ping) - med(noping):+.3f} s = {pct:+.2f}%")
        if paired:
            print("wall, adjacent pairs (ping - noping)/noping: " + ", ".join(f"{100 * d:+.1f}%" for d in paired)
                  + f"; median {100 * med(paired):+.2f}%")
        pq, nq = wall(quiet(ping_rs)), wall(quiet(noping_rs))
        if pq and nq:
            print(f"wall, quiet runs only ({len(pq)} and {len(nq)}): medians {100 * (med(pq) - med(nq)) / med(nq):+.2f}%"
                  f"; spread of the quiet runs {spread_pct(pq):.1f}% and {spread_pct(nq):.1f}%")
        qpaired = paired_diffs(runs, "noping", "clean", relative=True, quiet_only=True)
        if qpaired:
            print(f"wall, adjacent pairs with both runs quiet ({len(qpaired)}): "
                  + ", ".join(f"{100 * d:+.1f}%" for d in qpaired) + f"; median {100 * med(qpaired):+.2f}%")
        cpu_p = [r["cpu_s"] for r in ping_rs if ok(r)]
        cpu_n = [r["cpu_s"] for r in noping_rs if ok(r)]
        c0_p = [r["summary"]["rank0_cpu_s"] for r in ping_rs if ok(r)]
        c0_n = [r["summary"]["rank0_cpu_s"] for r in noping_rs if ok(r)]
        cpu_pct = 100 * (med(cpu_p) - med(cpu_n)) / med(cpu_n)
        print(f"CPU of all processes, medians: {cpu_pct:+.2f}% (spread {spread_pct(cpu_p):.0f}% and "
              f"{spread_pct(cpu_n):.0f}%); rank 0 CPU: {100 * (med(c0_p) - med(c0_n)) / med(c0_n):+.2f}%")
        fast_rs = by.get("ping20x", [])
        fast = wall(fast_rs)
        if fast:
            # pings per second per worker above the noping configuration: default 5 - 0.1, ping20x 100 - 0.1
            scale = (1 / 0.2 - 1 / 10) / (1 / 0.01 - 1 / 10)
            f_pct = 100 * (med(fast) - med(noping)) / med(noping)
            f_pair = paired_diffs(runs, "noping", "ping20x", relative=True)
            cpu_f = [r["cpu_s"] for r in fast_rs if ok(r)]
            c0_f = [r["summary"]["rank0_cpu_s"] for r in fast_rs if ok(r)]
            f_cpu = 100 * (med(cpu_f) - med(cpu_n)) / med(cpu_n)
            f_c0 = 100 * (med(c0_f) - med(c0_n)) / med(c0_n)
            print(f"magnified, --ping-interval 0.01 ({len(fast)} runs, wall median {med(fast):.2f} s, "
                  f"{fmt(min(fast), 2)}-{fmt(max(fast), 2)}) against noping: wall {f_pct:+.2f}%"
                  + (f" (median of same-round pairs {100 * med(f_pair):+.2f}%)" if f_pair else "")
                  + f", CPU of all processes {f_cpu:+.2f}%, rank 0 CPU {f_c0:+.2f}%")
            fq = paired_diffs(runs, "noping", "ping20x", relative=True, quiet_only=True)
            if fq:
                print(f"  pairs with both runs quiet ({len(fq)}): " + ", ".join(f"{100 * d:+.1f}%" for d in fq)
                      + f"; median {100 * med(fq):+.2f}%, scaled to the default rate {100 * scale * med(fq):+.3f}%")
            print(f"  scaled to the default rate (x{scale:.3f}): wall {scale * f_pct:+.2f}%"
                  + (f" (pairs {100 * scale * med(f_pair):+.2f}%)" if f_pair else "")
                  + f", CPU {scale * f_cpu:+.2f}%, rank 0 CPU {scale * f_c0:+.2f}%")
        if len(pq) >= 4 and len(nq) >= 4:  # judge on the quiet runs when there are enough of them
            pct = 100 * (med(pq) - med(nq)) / med(nq)
            half_iqr = max(iqr_pct(pq), iqr_pct(nq)) / 2
            basis = f"quiet runs, {len(pq)} and {len(nq)}"
        else:
            half_iqr = max(iqr_pct(ping), iqr_pct(noping)) / 2
            basis = "all runs: too few quiet ones"
        print(f"noise: half the interquartile range of one configuration's walls = {half_iqr:.1f}% ({basis})")
        if abs(pct) < 1.0 and abs(pct) <= half_iqr:
            verdict = (f"wall difference {pct:+.2f}% ({basis}): under 1%, and within the noise (half the "
                       f"interquartile range of one configuration's walls: {half_iqr:.1f}%)")
        elif abs(pct) < 1.0:
            verdict = f"wall difference {pct:+.2f}%: under 1%, outside half the interquartile range ({half_iqr:.1f}%)"
        elif abs(pct) <= half_iqr:
            verdict = (f"wall difference {pct:+.1f}% is within the noise (half the interquartile range "
                       f"{half_iqr:.1f}%): the walls of these runs cannot resolve 1%; see the CPU figures")
        else:
            verdict = f"wall difference {pct:+.1f}%, larger than the noise (half the interquartile range {half_iqr:.1f}%)"
        print("verdict: " + verdict)

    # 4. rank 0 killed (optional)
    r0 = [r for c in by if c.startswith("rank0@") for r in by[c]]
    if r0:
        print("\n4. Rank 0 killed (dips-run --retries 1): the job restarts with --resume once mpirun has exited, "
              "i.e. once the orphaned workers give up (--orphan-timeout)\n")
        rows = []
        for c in sorted({r["config"] for r in r0}):
            rs = by[c]
            ra = [r["retry_after_s"] for r in rs if "retry_after_s" in r]
            skipped = [r["summary"]["skipped"] for r in rs if ok(r)]
            rows.append([c, rs[0].get("orphan_timeout", "?"), f"{len(ra)}/{len(rs)}", fmt(med(ra), 2),
                         fmt(max(ra) if ra else None, 2), fmt(med(skipped), 0),
                         fmt(med([r["summary"]["tasks"] for r in rs if ok(r)]), 0),
                         sum(1 for r in rs if r.get("exit") == 0)])
        print_table(["configuration", "--orphan-timeout", "retried", "kill -> retry starts, median s", "max s",
                     "tasks skipped by the retry", "tasks", "runs ending with exit 0"], rows)


def paired_vs_clean(runs, config):
    """Per round: wall of config's run minus the mean wall of that round's clean runs."""
    ok = lambda r: r.get("summary") is not None and r.get("exit") == 0
    out = []
    for rnd in sorted({r.get("round") for r in runs}):
        c = [r["summary"]["wall_s"] for r in runs if r["config"] == "clean" and r.get("round") == rnd and ok(r)]
        k = [r["summary"]["wall_s"] for r in runs if r["config"] == config and r.get("round") == rnd and ok(r)]
        if c and k:
            out.append(statistics.mean(k) - statistics.mean(c))
    return out


def spread_pct(w):
    return 100 * (max(w) - min(w)) / med(w) if w else float("nan")


def iqr_pct(w):
    if len(w) < 4:
        return spread_pct(w)
    q = statistics.quantiles(w, n=4)
    return 100 * (q[2] - q[0]) / med(w)


def paired_diffs(runs, base, other, relative=False, quiet_only=False):
    """Differences other - base between runs of the same round and pair index (relative to base when asked;
    with quiet_only, only pairs whose two runs were both quiet)."""
    key = lambda r: (r.get("round"), r.get("pair", 0))
    use = lambda r: r.get("summary") and r.get("exit") == 0 and (
        not quiet_only or (r.get("other_cores") is not None and r["other_cores"] < QUIET_CORES))
    a = {key(r): r["summary"]["wall_s"] for r in runs if r["config"] == base and use(r)}
    b = {key(r): r["summary"]["wall_s"] for r in runs if r["config"] == other and use(r)}
    out = []
    for k in sorted(set(a) & set(b)):
        out.append((b[k] - a[k]) / a[k] if relative else b[k] - a[k])
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pieces":
        cmd_pieces(args[0])
    elif cmd == "run":
        cmd_run(args)
    elif cmd == "table":
        cmd_table(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
