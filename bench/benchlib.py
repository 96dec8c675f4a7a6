#!/usr/bin/env python3
"""What the benchmarks share (bench/targets.py for run.sh, bench/faults_table.py for faults.sh): the load
of a shared machine, CPU accounting, medians, image sizes and dips' report. Python 3 standard library only.

Command line (for the shell scripts):
  benchlib.py quiet MAX_WAIT CORES   waits (up to MAX_WAIT s) until the machine's busy CPU over a 1 s window
                                     is under CORES cores; prints "WAITED_S LOAD_CORES"
"""
import json
import os
import resource
import statistics
import struct
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- load of the machine
def machine_cpu():
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat (guest time is in user)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq) / HZ, steal / HZ


def children_cpu():
    """CPU seconds of this process's reaped descendants (mpirun reaps the ranks, dips-run reaps mpirun)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class LoadMeter:
    """The CPU the rest of the machine used while something ran: started before it, read after it.

    other_cores: busy CPU of the machine minus the CPU of our own reaped children, per second of wall time.
    On a shared machine a run with other load is suspect: a neighbour slows whatever runs at the time.
    """

    def __init__(self):
        self.busy0, self.steal0 = machine_cpu()
        self.own0 = children_cpu()
        self.t0 = time.monotonic()

    def read(self):
        """dict: wall_s, cpu_s (our children's CPU), other_cores, steal_cores since the meter was made."""
        wall = time.monotonic() - self.t0
        busy, steal = machine_cpu()
        own = children_cpu() - self.own0
        per_s = lambda x: round(x / wall, 3) if wall > 0 else 0.0
        return {"wall_s": round(wall, 4), "cpu_s": round(own, 3),
                "other_cores": per_s(max(0.0, busy - self.busy0 - own)), "steal_cores": per_s(steal - self.steal0)}


def wait_quiet(max_wait, threshold):
    """Waits (up to max_wait s) until the machine's busy CPU over a 1 s window is under threshold cores.
    Returns (seconds waited, the last window's load in cores)."""
    start = time.monotonic()
    while True:
        b0, _ = machine_cpu()
        time.sleep(1.0)
        b1, _ = machine_cpu()
        waited = time.monotonic() - start
        if b1 - b0 < threshold or waited >= max_wait:
            return waited, b1 - b0


# ----------------------------------------------------------------------------- numbers
def median(values):
    """Median of values, None when there are none."""
    values = list(values)
    return statistics.median(values) if values else None


# ----------------------------------------------------------------------------- images and reports
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
                h, w = struct.unpack(">HH", f.read(5)[1:5])
                return (w, h)
            f.seek(length - 2, 1)


def megapixels(path):
    size = image_size(path)
    if size is None:
        raise ValueError(f"cannot read the size of {path} (PNG and JPEG only)")
    return size[0] * size[1] / 1e6


def report_summary(path):
    """The summary object of dips' report (its last line), or None when there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))  # the summary is the last line: no need to read 100,000 task lines
            lines = [l for l in f.read().decode("utf-8", "replace").splitlines() if l.strip()]
    except OSError:
        return None
    if not lines:
        return None
    try:
        return json.loads(lines[-1]).get("summary")
    except ValueError:
        return None


def pipeline_shape(report_path):
    """The shape of the pipeline in dips' report (its last run): wall, rank 0's CPU, and per worker its pieces,
    work and result messages (pieces sent, or taken back, at the same 0.1 ms step of the report went in one
    message), pieces in flight when one was sent (median), compute and queue time per piece (medians)."""
    pieces, summary = [], None
    with open(report_path, encoding="utf-8", errors="replace") as report:
        for line in report:
            record = json.loads(line)
            if "dips_report" in record:
                pieces, summary = [], None  # a continued report: only its last run counts
            pieces.extend(record.get("pieces", []))
            summary = record.get("summary", summary)
    workers = {}
    for piece in pieces:
        workers.setdefault(piece["worker"], []).append(piece)
    rows = []
    for worker, held in sorted(workers.items()):
        events = sorted([(p["sent"], 1) for p in held] + [(p["done"], -1) for p in held])
        in_flight, at_send = 0, []
        for _, change in events:
            in_flight += change
            if change > 0:
                at_send.append(in_flight)
        rows.append({
            "worker": worker,
            "pieces": len(held),
            "work_messages": len({p["sent"] for p in held}),
            "result_messages": len({p["done"] for p in held}),
            "in_flight": statistics.median(at_send),
            "compute_ms": statistics.median(p["compute_ms"] for p in held),
            "queue_ms": statistics.median(p["queue_ms"] for p in held),
        })
    return {"wall_s": (summary or {}).get("wall_s"), "rank0_cpu_s": (summary or {}).get("rank0_cpu_s"), "workers": rows}


def shape_totals(shape):
    """A run's pipeline shape in a few numbers: messages each way and pieces per message, over its workers."""
    pieces = sum(w["pieces"] for w in shape["workers"])
    work = sum(w["work_messages"] for w in shape["workers"])
    results = sum(w["result_messages"] for w in shape["workers"])
    return {"pieces": pieces, "work_messages": work, "result_messages": results,
            "pieces_per_result_message": round(pieces / max(1, results), 2),
            "in_flight": [w["in_flight"] for w in shape["workers"]]}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "quiet":
        waited, load = wait_quiet(float(sys.argv[2]), float(sys.argv[3]))
        print(f"{waited:.0f} {load:.2f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
