#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only).

  benchlib.py sizes FILE...                 -> prints "COUNT MEGAPIXELS" (from PNG/JPEG headers)
  benchlib.py quiet MAX_WAIT CORES          -> waits until other processes use under CORES cores (1 s window)
  benchlib.py smallest FILE...              -> prints "MEGAPIXELS PATH" of the smallest image
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
import resource
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


def cmd_smallest(files):
    best = min(files, key=lambda p: (lambda s: s[0] * s[1])(image_size(p)))
    w, h = image_size(best)
    print(f"{w * h / 1e6:.4f}", best)


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
HZ = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq) / HZ, steal / HZ


def own_cpu():
    """CPU seconds of this process plus its reaped descendants (mpirun reaps the ranks, dips-run reaps mpirun)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def cmd_quiet(max_wait, threshold):
    """Waits (up to max_wait s) until the machine's busy CPU over a 1 s window is under threshold cores."""
    start = time.monotonic()
    while True:
        b0, _ = machine_cpu()
        time.sleep(1.0)
        b1, _ = machine_cpu()
        load = b1 - b0
        waited = time.monotonic() - start
        if load < threshold or waited >= max_wait:
            print(f"{waited:.0f} {load:.2f}")
            return


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
    busy0, steal0 = machine_cpu()
    own0 = own_cpu()
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
    busy1, steal1 = machine_cpu()
    own = own_cpu() - own0
    log.close()
    record["wall_s"] = round(wall, 4)
    record["cpu_s"] = round(own, 3)  # CPU time of the measured commands (all their processes)
    # CPU used on this machine by anything else during the run, in cores (a noise indicator), and VM steal
    record["other_cores"] = round(max(0.0, (busy1 - busy0) - own) / wall, 3) if wall > 0 else 0.0
    record["steal_cores"] = round((steal1 - steal0) / wall, 3) if wall > 0 else 0.0
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
QUIET_CORES = 0.3  # a run during which other processes used more CPU than this is left out when quiet ones exist


def med(values):
    values = list(values)
    return statistics.median(values) if values else None


def cmd_table(path):
    meta, runs, checks, calib = {}, [], [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            kind = r.get("kind")
            if kind == "meta":
                meta = r
            elif kind == "check":
                checks.append(r)
            elif r.get("config") == "dips_1img":
                calib.append(r)
            else:
                runs.append(r)
    ok = lambda r: all(c == 0 for c in r["exit"]) and "dips_error" not in r
    configs = meta["configs"]  # [[key, label], ...] in table order
    labels = dict((k, l) for k, l in configs)
    ops = meta["ops"]
    n_images, mp = meta["images"], meta["megapixels"]
    failures = [r for r in runs + calib if not ok(r)]
    calib = [r for r in calib if ok(r)]
    calib = [r for r in calib if r.get("other_cores", 0) < QUIET_CORES] or calib

    # Fixed cost of one dips run, from dips on a single small image: launch and teardown (outside wall minus
    # dips' own wall_s) and rank 0's start-up CPU (MPI_Init, libraries), which rank0_cpu_s includes although
    # it is spent before dips' own clock starts.
    startup_cpu = med(r["dips"]["rank0_cpu_s"] for r in calib)
    if calib:
        print(f"\n== fixed cost of a dips run (dips-run -n 3 on 1 image of {meta['calib_mp']:.2f} MP, median of {len(calib)}) ==")
        print(f"outside wall {med(r['wall_s'] for r in calib):.2f} s, of which dips' own wall_s {med(r['dips']['wall_s'] for r in calib):.3f} s; "
              f"rank 0 CPU {startup_cpu:.3f} s (start-up, mostly before wall_s starts); "
              f"CPU of all processes {med(r['cpu_s'] for r in calib):.2f} s")

    overall = []
    for op in ops:
        print(f"\n== {op}: {n_images} images, {mp:.1f} MP ({meta['set']} set); median of the quiet runs among {meta['rounds']} rounds ==")
        # Medians over each configuration's quiet runs (other processes under QUIET_CORES during the run) when
        # it has any, else over all its runs (marked '!'): on a shared machine a busy neighbour slows whatever
        # runs at the time, and more so a configuration with fewer processes.
        by, noisy = {}, set()
        for r in runs:
            if r["op"] == op and ok(r):
                by.setdefault(r["config"], []).append(r)
        for k, v in by.items():
            quiet = [x for x in v if x.get("other_cores", 0) < QUIET_CORES]
            if quiet:
                by[k] = quiet
            else:
                noisy.add(k)
        wall = {k: med(x["wall_s"] for x in v) for k, v in by.items()}
        d = wall.get("dips")
        dips_runs = by.get("dips", [])
        d_int = med(x["dips"]["wall_s"] for x in dips_runs)
        header = (f"{'configuration':<36} {'wall s':>6} {'min-max s':>11} {'img/s':>6} {'MP/s':>6} {'CPU s':>6} "
                  f"{'dips/cfg':>8} {'dips-own/cfg':>12} {'runs':>4} {'other load':>10}")
        print(header)
        print("-" * len(header))
        for key, label in configs:
            if key not in wall:
                print(f"{label:<36} (no successful run)")
                continue
            w = wall[key]
            v = by[key]
            lo, hi = min(x["wall_s"] for x in v), max(x["wall_s"] for x in v)
            # throughput ratios, plain wall / dips wall: above 1, dips is faster
            r1 = f"{w / d:.2f}x" if d and not key.startswith("dips") else "-"
            r2 = f"{w / d_int:.2f}x" if d_int and not key.startswith("dips") else "-"
            other = med(x.get("other_cores", 0) for x in v)
            runs_text = f"{len(v)}" + ("!" if key in noisy else "")
            print(f"{label:<36} {w:6.2f} {lo:5.2f}-{hi:<5.2f} {n_images / w:6.1f} {mp / w:6.1f} {med(x['cpu_s'] for x in v):6.2f} "
                  f"{r1:>8} {r2:>12} {runs_text:>4} {other:9.2f}c")
        for key in ("dips", "dips_off"):
            v = by.get(key)
            if not v:
                continue
            share = med(x["dips"]["rank0_cpu_s"] / x["dips"]["wall_s"] for x in v)
            line = (f"  {labels[key]}: dips' own wall_s {med(x['dips']['wall_s'] for x in v):.2f} s, launch+teardown "
                    f"{med(x['wall_s'] - x['dips']['wall_s'] for x in v):.2f} s; rank 0 CPU {med(x['dips']['rank0_cpu_s'] for x in v):.3f} s "
                    f"= {100 * share:.1f}% of a core over wall_s")
            if startup_cpu is not None:
                net = med(max(0.0, x["dips"]["rank0_cpu_s"] - startup_cpu) / x["dips"]["wall_s"] for x in v)
                line += f", {100 * net:.1f}% without the start-up CPU"
            print(line)
        two = [k for k in ("plain2", "plain2_huge") if k in wall]
        if d and two:
            best = min(two, key=lambda k: wall[k])
            share = med(x["dips"]["rank0_cpu_s"] / x["dips"]["wall_s"] for x in dips_runs)
            net = med(max(0.0, x["dips"]["rank0_cpu_s"] - startup_cpu) / x["dips"]["wall_s"] for x in dips_runs) if startup_cpu is not None else None
            ratio, ratio_int = wall[best] / d, wall[best] / d_int
            met = ratio >= 0.9 and share < 0.15
            overall.append((op, ratio, ratio_int, share, net, met))
            print(f"  dips vs the best plain 2-process loop ({labels[best]}): {ratio:.2f}x "
                  f"({ratio_int:.2f}x on dips' own wall_s, launch excluded); target (>= 0.90x, rank 0 < 15%): {'MET' if met else 'NOT MET'}")
    if overall:
        print("\n== overall: dips -n 3 vs the best plain 2-process loop (outside wall; ratio >= 0.90 and rank 0 < 15% is the target) ==")
        print(f"{'operation':<20} {'ratio':>6} {'launch excluded':>16} {'rank 0 % core':>14} {'net of start-up':>16}  target")
        for op, ratio, ratio_int, share, net, met in overall:
            nets = f"{100 * net:.1f}%" if net is not None else "-"
            print(f"{op:<20} {ratio:5.2f}x {ratio_int:15.2f}x {100 * share:13.1f}% {nets:>16}  {'MET' if met else 'NOT MET'}")
        gm = statistics.geometric_mean([o[1] for o in overall])
        gm_int = statistics.geometric_mean([o[2] for o in overall])
        print(f"{'geometric mean':<20} {gm:5.2f}x {gm_int:15.2f}x {'':>14} {'':>16}  {sum(o[5] for o in overall)} of {len(overall)} met")
    if checks:
        print("\n== correctness (round 1): dips outputs vs the plain loop's, byte for byte (cmp) ==")
        for c in checks:
            print(f"{c['op']:<20} {c['same']}/{c['total']} identical" + (f"; differ: {', '.join(c['differ'][:5])}" if c["differ"] else ""))
    all_other = [r.get("other_cores", 0) for r in runs]
    print(f"\nruns: how many runs the median is over: the quiet ones (other processes used under {QUIET_CORES} cores meanwhile), "
          f"or all of them, marked '!', when none was quiet. CPU s: CPU time of all the configuration's processes. "
          f"other load: CPU used by other processes during those runs, in cores.")
    if all_other:
        print(f"\nother load (CPU used by other processes during the runs, in cores): median {med(all_other):.2f}, max {max(all_other):.2f}; "
              f"VM steal max {max(r.get('steal_cores', 0) for r in runs):.2f} cores")
    if failures:
        print(f"\n!! {len(failures)} run(s) failed and are left out of the medians:")
        for r in failures:
            print(f"   round {r['round']} {r.get('op', '')} {r['config']}: exit {r['exit']} {r.get('dips_error', '')} log {r.get('log', '')}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sizes":
        cmd_sizes(args)
    elif cmd == "quiet":
        cmd_quiet(float(args[0]), float(args[1]))
    elif cmd == "smallest":
        cmd_smallest(args)
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
