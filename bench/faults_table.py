#!/usr/bin/env python3
"""Helpers for bench/faults.sh (Python 3 standard library only).

  faults_table.py quiet MAX_WAIT CORES
        waits (up to MAX_WAIT s) until the whole machine uses under CORES cores over a 1 s window;
        prints "WAITED_S LOAD_CORES"
  faults_table.py pieces DRY_RUN_OUTPUT
        prints the total number of pieces in a `dips --dry-run` plan (sum of "(N pieces" per task)
  faults_table.py run RECORD_JSON RESULTS_JSONL REPORT LOG -- CMD...
        runs CMD with its stderr read line by line, each line stamped with time.monotonic() as it
        arrives (LOG gets "+SECONDS LINE"); appends to RESULTS_JSONL one JSON line: RECORD_JSON merged
        with the exit code, the outside wall time, the CPU time of CMD and all its descendants, the CPU
        other processes used meanwhile, dips' report summary (REPORT's last line), and, when the stderr
        shows a fault, the stamps of "injects 'kill'" and "worker rank R lost" and their difference
        (detect_s). Exits with CMD's exit code.
  faults_table.py table RESULTS_JSONL
        prints the tables (medians over rounds) and a verdict on the ping traffic's cost
"""
import json
import os
import re
import resource
import select
import statistics
import subprocess
import sys
import time

INJECT_RE = re.compile(r"DIPS_FAULT: rank (\d+) injects '(\w+)' now")
LOST_RE = re.compile(r"worker rank (\d+) lost \(([^)]*)\); (\d+) pieces? handed to the others, (\d+) workers? left")
PIECES_RE = re.compile(r"\((\d+) pieces?\b")


def machine_busy_s():
    """Busy CPU seconds of the whole machine since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    busy = sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ----------------------------------------------------------------------------- quiet, pieces
def cmd_quiet(max_wait, threshold):
    start = time.monotonic()
    while True:
        b0 = machine_busy_s()
        time.sleep(1.0)
        load = machine_busy_s() - b0
        waited = time.monotonic() - start
        if load < threshold or waited >= max_wait:
            print(f"{waited:.0f} {load:.2f}")
            return


def cmd_pieces(path):
    total = 0
    with open(path) as f:
        for line in f:
            m = PIECES_RE.search(line)
            if m:
                total += int(m.group(1))
    print(total)


# ----------------------------------------------------------------------------- run
def last_summary(report):
    try:
        with open(report) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "summary" in obj:
            return obj["summary"]
        break
    return None


def cmd_run(args):
    record = json.loads(args[0])
    results, report, log_path = args[1], args[2], args[3]
    if args[4] != "--":
        sys.exit("faults_table run: expected -- before the command")
    cmd = args[5:]
    cpu0, busy0 = children_cpu_s(), machine_busy_s()
    t0 = time.monotonic()
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
    wall = time.monotonic() - t0
    cpu = children_cpu_s() - cpu0
    busy = machine_busy_s() - busy0
    with open(log_path, "w") as log:
        for stamp, line in stamped:
            log.write(f"+{stamp - t0:9.4f} {line}\n")
    record.update({"exit": code, "outer_wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                   "other_cores": round(max(0.0, busy - cpu) / wall, 3) if wall > 0 else None})
    inject = next(((s, m) for s, l in stamped for m in [INJECT_RE.search(l)] if m), None)
    lost = next(((s, m) for s, l in stamped for m in [LOST_RE.search(l)] if m), None)
    if inject:
        record["inject_at_s"] = round(inject[0] - t0, 4)
        record["inject_rank"] = int(inject[1].group(1))
    if lost:
        record["lost_at_s"] = round(lost[0] - t0, 4)
        record["lost_rank"] = int(lost[1].group(1))
        record["requeued"] = int(lost[1].group(3))
    if inject and lost:
        record["detect_s"] = round(lost[0] - inject[0], 4)
    summary = last_summary(report)
    record["summary"] = summary
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")
    brief = f"exit {code}, wall_s {summary.get('wall_s') if summary else '?'}, outer {wall:.2f} s"
    if "detect_s" in record:
        brief += f", detect {record['detect_s']:.3f} s, {record['requeued']} pieces requeued"
    elif inject:
        brief += ", fault injected but no 'lost' line"
    elif record.get("after"):
        brief += ", the fault did not fire"
    brief += f", other load {record['other_cores']:.2f} cores"
    print(brief, file=sys.stderr)
    sys.exit(code)


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


def cmd_table(path):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    good = lambda r: r.get("summary") is not None
    by = {}
    for r in runs:
        by.setdefault(r["config"], []).append(r)
    rounds = max((r.get("round", 0) for r in runs), default=0)
    meta = runs[0] if runs else {}
    print(f"{len(runs)} runs, {rounds} rounds; job: {meta.get('job', '?')}; ranks: {meta.get('ranks', '?')} "
          f"(1 coordinator + {int(meta.get('ranks', 1)) - 1} workers); nproc {os.cpu_count()}")
    other = [r["other_cores"] for r in runs if r.get("other_cores") is not None]
    if other:
        print(f"CPU used by other processes during the runs: median {med(other):.2f} cores, max {max(other):.2f} "
              f"(of {os.cpu_count()}); runs with other load are slower and noisier")
    bad = [r for r in runs if not good(r) or r.get("exit") != 0]
    if bad:
        print(f"WARNING: {len(bad)} runs without a summary or with a non-zero exit: "
              + ", ".join(f"{r['config']} round {r.get('round')} exit {r.get('exit')}" for r in bad))

    # 1. detection time
    print("\n1. Detection time: worker's \"injects 'kill'\" line -> rank 0's \"worker rank R lost\" line "
          "(stderr lines stamped on arrival)\n")
    rows, all_detect = [], []
    kill_configs = sorted((c for c in by if c.startswith("kill@")), key=lambda c: int(c.split("@")[1]))
    for c in kill_configs:
        rs = by[c]
        d = [r["detect_s"] for r in rs if "detect_s" in r]
        all_detect += d
        at = [r["inject_at_s"] for r in rs if "inject_at_s" in r]
        rq = [r["requeued"] for r in rs if "requeued" in r]
        wall = [r["summary"]["wall_s"] for r in rs if good(r)]
        rows.append([c.replace("kill@", "after "), f"{len(d)}/{len(rs)}", fmt(med(at), 2), fmt(med(d)),
                     fmt(min(d) if d else None), fmt(max(d) if d else None), fmt(med(rq), 0), fmt(med(wall), 2)])
    if all_detect:
        rows.append(["all", f"{len(all_detect)}", "", fmt(med(all_detect)), fmt(min(all_detect)),
                     fmt(max(all_detect)), "", ""])
    print_table(["kill moment (work message)", "detected", "kill at (s into run)", "median s", "min s", "max s",
                 "pieces requeued", "wall_s median"], rows)

    # 2. fault cost
    def walls(c):
        return [r["summary"]["wall_s"] for r in by.get(c, []) if good(r) and r.get("exit") == 0]

    clean = walls("clean")
    mid = meta.get("mid_config") or next((r["mid_config"] for r in runs if r.get("mid_config")), None)
    print("\n2. Extra wall time of one worker killed mid-job (dips' summary wall_s)\n")
    rows = []
    for c, label in [("clean", "clean, 3 workers"), (mid, f"{mid}: one worker killed mid-job"),
                     ("clean-1w", "clean, 2 workers from the start (-n one fewer)")]:
        w = walls(c) if c else []
        if not w:
            continue
        m = med(w)
        diff = m - med(clean) if clean else float("nan")
        rows.append([label, len(w), fmt(m), fmt(min(w)), fmt(max(w)),
                     "" if c == "clean" else f"{diff:+.3f} s ({100 * diff / med(clean):+.1f}%)"])
    print_table(["configuration", "runs", "wall_s median", "min", "max", "vs clean (medians)"], rows)
    if clean and mid and walls(mid):
        paired = paired_diffs(runs, "clean", mid)
        if paired:
            print(f"\nper round ({mid} - clean): " + ", ".join(f"{d:+.2f}" for d in paired)
                  + f" s; median {med(paired):+.3f} s")
        d_mid = [r["detect_s"] for r in by[mid] if "detect_s" in r]
        rq = [r["requeued"] for r in by[mid] if "requeued" in r]
        if d_mid:
            print(f"{mid}: detection median {med(d_mid):.3f} s, pieces requeued median {med(rq):.0f}, "
                  f"killed at {med([r['inject_at_s'] for r in by[mid] if 'inject_at_s' in r]):.2f} s into the run")

    # 3. ping cost
    print("\n3. Cost of the ping traffic on throughput: clean runs, --ping-interval 0.2 (default) vs "
          "--ping-interval 10 --ping-timeout 30\n")
    rows = []
    ping, noping = walls("clean"), walls("noping")
    for c, label, w in [("clean", "pings every 0.2 s (default)", ping), ("noping", "pings every 10 s", noping)]:
        if not w:
            continue
        cpu0 = [r["summary"]["rank0_cpu_s"] for r in by[c] if good(r)]
        cpu = [r["cpu_s"] for r in by[c] if good(r)]
        other = [r["other_cores"] for r in by[c] if r.get("other_cores") is not None]
        rows.append([label, len(w), fmt(med(w)), f"{fmt(min(w))}-{fmt(max(w))}",
                     f"{100 * (max(w) - min(w)) / med(w):.1f}%", fmt(med(cpu0)), fmt(med(cpu), 2), fmt(med(other), 2)])
    print_table(["configuration", "runs", "wall_s median", "min-max", "spread", "rank0_cpu_s median",
                 "CPU s, all processes", "other load (cores)"], rows)
    if ping and noping:
        diff = med(ping) - med(noping)
        pct = 100 * diff / med(noping)
        paired = paired_diffs(runs, "noping", "clean", relative=True)
        print(f"\nping cost (medians): {diff:+.3f} s = {pct:+.2f}% of the no-ping wall time")
        if paired:
            print("per pair (same round, adjacent runs; ping - noping, %): "
                  + ", ".join(f"{100 * d:+.1f}" for d in paired) + f"; median {100 * med(paired):+.2f}%")
        noise = max(spread_pct(ping), spread_pct(noping))
        half_iqr = max(iqr_pct(ping), iqr_pct(noping)) / 2
        if abs(pct) < 1.0 and abs(pct) < half_iqr:
            verdict = (f"under 1% and within the noise (half the interquartile range of a configuration is "
                       f"{half_iqr:.1f}%, min-max spread {noise:.1f}%): no measurable cost")
        elif abs(pct) < 1.0:
            verdict = f"under 1% (min-max spread {noise:.1f}%)"
        elif abs(pct) < half_iqr:
            verdict = (f"{pct:+.1f}% is within the noise (half the interquartile range {half_iqr:.1f}%, "
                       f"min-max spread {noise:.1f}%): these runs cannot tell whether it is under 1%")
        else:
            verdict = f"{pct:+.1f}%, larger than the noise (half the interquartile range {half_iqr:.1f}%)"
        print("verdict: " + verdict)


def spread_pct(w):
    return 100 * (max(w) - min(w)) / med(w) if w else float("nan")


def iqr_pct(w):
    if len(w) < 4:
        return spread_pct(w)
    q = statistics.quantiles(w, n=4)
    return 100 * (q[2] - q[0]) / med(w)


def paired_diffs(runs, base, other, relative=False):
    """Differences other - base between runs of the same round and pair index (relative to base when asked)."""
    key = lambda r: (r.get("round"), r.get("pair", 0))
    a = {key(r): r["summary"]["wall_s"] for r in runs if r["config"] == base and r.get("summary") and r.get("exit") == 0}
    b = {key(r): r["summary"]["wall_s"] for r in runs if r["config"] == other and r.get("summary") and r.get("exit") == 0}
    out = []
    for k in sorted(set(a) & set(b)):
        out.append((b[k] - a[k]) / a[k] if relative else b[k] - a[k])
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "quiet":
        cmd_quiet(float(args[0]), float(args[1]))
    elif cmd == "pieces":
        cmd_pieces(args[0])
    elif cmd == "run":
        cmd_run(args)
    elif cmd == "table":
        cmd_table(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
