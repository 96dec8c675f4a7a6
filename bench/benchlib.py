#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only).

  benchlib.py sizes FILE...                 -> prints "COUNT MEGAPIXELS" (from PNG/JPEG headers)
  benchlib.py split N_PARTS MODE FILE...    -> prints the files, one part per line, tab-separated
                                               (MODE: interleave = round robin, contiguous = halves)
  benchlib.py time RECORD_JSON OUT_JSONL [--env K=V]... [--unset K]... [--dips-report PATH] -- CMD [::: CMD]...
        runs the commands concurrently, times them with a monotonic clock (from just before the first
        start to the end of the last), appends one JSON line to OUT_JSONL (RECORD_JSON merged with
        wall_s, per-command seconds, exit codes and, with --dips-report, the summary line of dips'
        report). Exit status: 0 when every command exited 0.
  benchlib.py table RESULTS_JSONL           -> prints the per-operation tables and the overall verdict
"""
import json
import os
import statistics
import struct
import subprocess
import sys
import time


# ----------------------------------------------------------------------------- image sizes
def image_size(path):
    """(width, height) from a PNG or JPEG header, or None."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:2] != b"\xff\xd8":
            return None
        f.seek(2)
        while True:
            b = f.read(2)
            if len(b) < 2 or b[0] != 0xFF:
                return None
            marker = b[1]
            if marker == 0xFF:
                f.seek(-1, 1)
                continue
            if marker == 0xD8 or marker == 0x01 or 0xD0 <= marker <= 0xD7:
                continue
            length = struct.unpack(">H", f.read(2))[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                seg = f.read(5)
                h, w = struct.unpack(">HH", seg[1:5])
                return (w, h)
            f.seek(length - 2, 1)


def cmd_sizes(files):
    total = 0.0
    for p in files:
        size = image_size(p)
        if size is None:
            sys.exit(f"benchlib: cannot read the size of {p} (PNG and JPEG only)")
        total += size[0] * size[1] / 1e6
    print(len(files), f"{total:.4f}")


def cmd_split(parts, mode, files):
    out = [[] for _ in range(parts)]
    if mode == "interleave":
        for i, f in enumerate(files):
            out[i % parts].append(f)
    elif mode == "contiguous":
        per = -(-len(files) // parts)
        for i in range(parts):
            out[i] = files[i * per:(i + 1) * per]
    else:
        sys.exit(f"benchlib: unknown split mode {mode}")
    for part in out:
        print("\t".join(part))


# ----------------------------------------------------------------------------- timing
def cmd_time(args):
    record = json.loads(args[0])
    out_path = args[1]
    rest = args[2:]
    env = dict(os.environ)
    dips_report = None
    while rest and rest[0] != "--":
        if rest[0] == "--env":
            k, v = rest[1].split("=", 1)
            env[k] = v
            rest = rest[2:]
        elif rest[0] == "--unset":
            env.pop(rest[1], None)
            rest = rest[2:]
        elif rest[0] == "--dips-report":
            dips_report = rest[1]
            rest = rest[2:]
        else:
            sys.exit(f"benchlib time: unknown option {rest[0]}")
    rest = rest[1:]
    commands, current = [], []
    for a in rest:
        if a == ":::":
            commands.append(current)
            current = []
        else:
            current.append(a)
    commands.append(current)
    log = open(record.get("log", os.devnull), "ab")
    start = time.monotonic()
    procs = [subprocess.Popen(c, env=env, stdout=log, stderr=log) for c in commands]
    ends = [None] * len(procs)
    pending = set(range(len(procs)))
    while pending:  # note each command's own end, so an unbalanced split shows
        for i in list(pending):
            if procs[i].poll() is not None:
                ends[i] = time.monotonic()
                pending.discard(i)
        if pending:
            time.sleep(0.002)
    wall = time.monotonic() - start
    log.close()
    record["wall_s"] = round(wall, 4)
    record["part_s"] = [round(e - start, 4) for e in ends]
    record["exit"] = [p.returncode for p in procs]
    if dips_report:
        try:
            with open(dips_report) as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
            record["dips"] = json.loads(lines[-1])["summary"]
            tasks = [json.loads(l) for l in lines[1:-1]]
            record["dips_task_ms"] = round(sum(t.get("ms", 0) for t in tasks), 1)
        except (OSError, ValueError, KeyError, IndexError) as e:
            record["dips_error"] = f"no readable report summary: {e}"
    with open(out_path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    ok = all(c == 0 for c in record["exit"]) and "dips_error" not in record
    sys.exit(0 if ok else 1)


# ----------------------------------------------------------------------------- table
def fmt_ratio(x):
    return f"{x:.2f}x" if x is not None else "-"


def cmd_table(path):
    meta, runs, checks = {}, [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            kind = r.get("kind")
            if kind == "meta":
                meta = r
            elif kind == "check":
                checks.append(r)
            else:
                runs.append(r)
    configs = meta["configs"]  # [[key, label], ...] in table order
    labels = dict((k, l) for k, l in configs)
    ops = meta["ops"]
    n_images, mp = meta["images"], meta["megapixels"]
    overall = []
    failures = [r for r in runs if any(c != 0 for c in r["exit"]) or "dips_error" in r]
    for op in ops:
        print(f"\n== {op}: {n_images} images, {mp:.1f} MP ({meta['set']} set), median of {meta['rounds']} rounds ==")
        by = {}
        for r in runs:
            if r["op"] == op and all(c == 0 for c in r["exit"]) and "dips_error" not in r:
                by.setdefault(r["config"], []).append(r)
        med = {k: statistics.median(x["wall_s"] for x in v) for k, v in by.items()}
        spread = {k: (min(x["wall_s"] for x in v), max(x["wall_s"] for x in v)) for k, v in by.items()}
        d = med.get("dips")
        dips_runs = by.get("dips", [])
        d_int = statistics.median(x["dips"]["wall_s"] for x in dips_runs) if dips_runs else None
        header = f"{'configuration':<36} {'wall s':>7} {'min-max s':>13} {'img/s':>7} {'MP/s':>7} {'dips/cfg':>9} {'dips-int/cfg':>13}"
        print(header)
        print("-" * len(header))
        for key, label in configs:
            if key not in med:
                print(f"{label:<36} {'(no successful run)':>30}")
                continue
            w = med[key]
            lo, hi = spread[key]
            ratio = d / w if d and not key.startswith("dips") else None
            ratio_int = d_int / w if d_int and not key.startswith("dips") else None
            # ratios are throughput ratios: plain wall / dips wall (>1: dips is faster)
            r1 = fmt_ratio(w / d) if ratio else "-"
            r2 = fmt_ratio(w / d_int) if ratio_int else "-"
            print(f"{label:<36} {w:7.2f} {lo:6.2f}-{hi:<6.2f} {n_images / w:7.2f} {mp / w:7.2f} {r1:>9} {r2:>13}")
        for key in ("dips", "dips_off"):
            v = by.get(key)
            if not v:
                continue
            shares = [x["dips"]["rank0_cpu_s"] / x["dips"]["wall_s"] for x in v if x["dips"]["wall_s"] > 0]
            ext_shares = [x["dips"]["rank0_cpu_s"] / x["wall_s"] for x in v]
            internal = [x["dips"]["wall_s"] for x in v]
            print(f"  {labels[key]}: rank 0 CPU {statistics.median(x['dips']['rank0_cpu_s'] for x in v):.3f} s = "
                  f"{100 * statistics.median(shares):.1f}% of one core over dips' own wall_s "
                  f"(median {statistics.median(internal):.2f} s; {100 * statistics.median(ext_shares):.1f}% over the outside wall); "
                  f"launch+teardown (outside wall - wall_s) {statistics.median(x['wall_s'] - x['dips']['wall_s'] for x in v):.2f} s")
        two = [k for k in ("plain2", "plain2_huge") if k in med]
        if d and two:
            best = min(two, key=lambda k: med[k])
            share = statistics.median(x["dips"]["rank0_cpu_s"] / x["dips"]["wall_s"] for x in dips_runs)
            ratio = med[best] / d
            ratio_int = med[best] / d_int
            ok = ratio >= 0.9 and share < 0.15
            overall.append((op, ratio, ratio_int, share, best, ok))
            print(f"  dips vs best plain 2-process ({labels[best]}): {ratio:.2f}x "
                  f"(dips' own wall_s, launch excluded: {ratio_int:.2f}x); rank 0 {100 * share:.1f}% of a core; "
                  f"target (>= 0.90x and < 15%): {'MET' if ok else 'NOT MET'}")
    if overall:
        print("\n== overall: dips (-n 3) vs the best plain 2-process loop, per operation ==")
        print(f"{'operation':<20} {'ratio':>7} {'ratio, launch excl.':>20} {'rank 0 % core':>14}  target")
        for op, ratio, ratio_int, share, best, ok in overall:
            print(f"{op:<20} {ratio:6.2f}x {ratio_int:19.2f}x {100 * share:13.1f}%  {'MET' if ok else 'NOT MET'}")
        gm = statistics.geometric_mean([o[1] for o in overall])
        gm_int = statistics.geometric_mean([o[2] for o in overall])
        met = sum(1 for o in overall if o[5])
        print(f"{'geometric mean':<20} {gm:6.2f}x {gm_int:19.2f}x {'':>14}  {met} of {len(overall)} operations meet the target")
    if checks:
        print("\n== correctness (round 1): dips outputs vs the plain loop's, byte for byte (cmp) ==")
        for c in checks:
            print(f"{c['op']:<20} {c['same']}/{c['total']} identical" + (f"; differ: {', '.join(c['differ'][:5])}" if c["differ"] else ""))
    if failures:
        print(f"\n!! {len(failures)} run(s) failed and are left out of the medians (logs in the work folder):")
        for r in failures:
            print(f"   round {r['round']} {r['op']} {r['config']}: exit {r['exit']} {r.get('dips_error', '')} log {r.get('log', '')}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sizes":
        cmd_sizes(args)
    elif cmd == "split":
        cmd_split(int(args[0]), args[1], args[2:])
    elif cmd == "time":
        cmd_time(args)
    elif cmd == "table":
        cmd_table(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
