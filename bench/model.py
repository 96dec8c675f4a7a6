#!/usr/bin/env python3
"""The scaling model of dips (docs/scaling.md): from measured per-task costs (bench/costs.sh), the throughput one
rank 0 reaches as workers grow, on a given network, with the bottleneck named at each point; and, given a
rehearsal's results (bench/rehearsal.sh), the model's curves for the rehearsal's conditions with the measured
points on them and the disagreements beyond 25%.

  model.py --costs COSTS.json --out DIR [--rehearsal REHEARSAL.json] [parameters]

Writes DIR/scaling-SHAPE.png (throughput and rank 0's load against workers, 1/10/100 Gbit/s, both data paths),
DIR/scaling-xlarge.png (one 50 MP image), DIR/table.md (what N workers give, and what limits them), with
--rehearsal DIR/rehearsal-*.png and the measured/model table in table.md; with --json, DIR/model.json holds
every number plotted.
Needs python3-matplotlib (Debian) for the plots; without it, the tables only.

The model, per job shape and data path (a "worker" is one rank with one compute thread, i.e. one core):
  throughput X(N) = min of
    workers      N * threads / cycle                     w: workers' CPU seconds per task (measured)
    rank 0 CPU   (1 - N * u) / (c0 + N * k)              c0: rank 0 CPU per task (measured with 2 workers);
                                                          k: what each more worker adds per task (callgrind
                                                          sweep); u: rank 0 CPU per second per idle worker
    rank 0 NIC   R0 * goodput / max(bytes out, bytes in per task, + per-piece headers)   (full duplex)
    file system  --io shared: the file server's link and its operations per second; --io mpi: rank 0's disk
  cycle: a piece's time on a worker thread (w per piece); the scheduler keeps max(1, floor(lookahead / that))
  pieces on a thread, and with only one sends the next when lookahead of it is left: the thread waits only for
  what of its result going back and the next piece coming (transfers on its own link, a round trip, rank 0's
  turnaround) exceeds the lookahead.
  Over a whole job rank 0 first builds it (cb per task: the manifest, every output path checked), so the job's
  throughput is 1 / (cb + 1 / X).
  rank 0 load = X * (cb + c0 + N k) + N u + its polling while not busy (share of one core); NIC load =
  X * bytes / (R0 * goodput).
On one machine (the rehearsal) every rank shares its free cores C: host CPU  (C - N * polling worker) / (c0 + w).
One image cut into bands (xlarge) is a latency: T(N) = the pieces that run alone (a decode, a whole-image
stage, a finish, an encode of the whole image) with their bytes through rank 0, plus the bands (their CPU over
min(N, bands) workers, or their bytes through rank 0's link, whichever is longer; since the band codecs, bands
may read their rows from the file and encode their part of the output), plus rank 0's own CPU.
"""
import argparse
import json
import math
import sys
from pathlib import Path

LINKS_GBPS = [1, 10, 100]
WORKERS = sorted({int(round(2 * (500 ** (i / 59)))) for i in range(60)})  # 2 .. 1000, log-spaced
TABLE_WORKERS = [2, 8, 32, 64, 128, 256, 512, 1000]
BOTTLENECK_COLOURS = {"workers": "#2a9d8f", "rank 0 CPU": "#e76f51", "rank 0 NIC": "#264653",
                      "file system": "#e9c46a", "host CPU": "#8d99ae", "worker links": "#6a4c93",
                      "one worker (decode, encode)": "#9b2226", "workers (bands)": "#2a9d8f"}
SHAPE_TITLES = {"thumbs": "64x64 thumbnails", "photos": "1-4 MP photos", "large": "8-20 MP photos",
                "xlarge": "one 50 MP image", "photos-bmp": "1-4 MP photos as BMP"}


def parameters(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--costs", required=True, help="bench/costs.sh's results (JSON)")
    p.add_argument("--out", required=True, help="folder for the plots and tables")
    p.add_argument("--rehearsal", help="bench/rehearsal.sh's results (JSON): plots its points on the model")
    p.add_argument("--json", action="store_true", help="also write DIR/model.json: every number plotted")
    p.add_argument("--goodput", type=float, default=0.94,
                   help="payload share of a link's rate: TCP/IP and Ethernet framing at MTU 1500 (0.94)")
    p.add_argument("--piece-header-bytes", type=float, default=400,
                   help="bytes on the wire per piece and direction besides the payload: dips' head (paths, "
                        "steps), MPI's match header, the TCP segments' share (400; the rehearsal measures it)")
    p.add_argument("--rtt-ms", type=float, default=0.2, help="round trip between two hosts (0.2 ms)")
    p.add_argument("--lookahead", type=float, default=0.1, help="dips' --lookahead (0.1 s)")
    p.add_argument("--threads", type=int, default=1, help="compute threads per worker rank (1)")
    p.add_argument("--worker-speed", type=float, default=1.0,
                   help="a worker core's speed relative to the machine the costs were measured on (1.0)")
    p.add_argument("--fs-servers", type=float, default=1,
                   help="--io shared: file servers, each with a link like rank 0's (1: one NFS server)")
    p.add_argument("--fs-ops", type=float, default=20000,
                   help="--io shared: file operations per second the file service sustains (20000, an NFS "
                        "server's order of magnitude; an assumption, not measured here)")
    p.add_argument("--fs-ops-per-task", type=float, default=6,
                   help="open+read of the input, create+write+rename of the output, a stat (6)")
    p.add_argument("--disk-mbps", type=float, default=1000,
                   help="--io mpi: rank 0's disk, MB/s read + written (1000: a local SSD)")
    return p.parse_args(argv)


# ============================================================================= the model
class Costs:
    """One shape and data path's measured costs (an entry of bench/costs.sh's "costs")."""

    def __init__(self, c, result):
        self.shape, self.io, self.op = c["shape"], c["io"], c["op"]
        self.c0 = c["rank0_cpu_s_per_task"]
        # Building the job (manifest, output path checks): rank 0 does it for every task before the run starts.
        self.cb = c.get("rank0_build_s_per_task") or 0.0
        self.pieces = c["pieces_per_task"]
        self.b_out, self.b_in = c["bytes_out_per_task"], c["bytes_in_per_task"]
        self.w = c.get("worker_cpu_s_per_task") or c["worker_compute_s_per_task"]
        self.fs_bytes = c["input_bytes_per_task"] + c["output_bytes_per_task"]
        self.input_bytes = c["input_bytes_per_task"]
        self.mp = c["megapixels_per_task"]
        self.kinds = c.get("kinds", {})
        self.compute_s = c["worker_compute_s_per_task"]
        s_per_ir = result.get("rank0_s_per_ir")
        per_worker_ir = result.get("ir_per_task_per_worker")
        # What each more worker adds to rank 0's cost of a task (scans over the workers); 0 when not measured.
        self.k = max(0.0, per_worker_ir * s_per_ir) if s_per_ir and per_worker_ir else 0.0
        # Rank 0's CPU per second for each worker while it waits (pings, polling); from the pings' cost when the
        # difference between 2 and many workers drowned in noise.
        self.u = result.get("idle_cpu_per_worker") or 5 * (result.get("cpu_per_ping") or 0.0)
        self.single = c["tasks"] == 1  # one image, cut into bands: a latency, not a throughput
        self.idle0 = result.get("idle_cpu_base") or 0.0       # rank 0 polling while it waits (2 workers)
        self.worker_idle = result.get("worker_idle_cpu") or 0.0  # a worker polling while it waits


def wire_bytes(costs, p):
    """Bytes on rank 0's link per task, out and in, with the per-piece headers."""
    h = p.piece_header_bytes * costs.pieces
    return costs.b_out + h, costs.b_in + h


def predict(costs, n, link_gbps, p, worker_link_gbps=None, host_cores=None, piece_wall_s=None):
    """Throughput (tasks/s) with n workers on a link of link_gbps (rank 0's; workers' the same unless given),
    the limit of each resource, the bottleneck and rank 0's load. host_cores: all ranks share this many cores
    (the rehearsal on one machine); None for a cluster (every rank has its own core). piece_wall_s: how long a
    piece keeps a worker thread busy, when that is not its CPU time (a shared machine)."""
    r0 = link_gbps * 1e9 / 8 * p.goodput
    rw = (worker_link_gbps or link_gbps) * 1e9 / 8 * p.goodput
    out_b, in_b = wire_bytes(costs, p)
    w = costs.w / p.worker_speed
    c0 = costs.c0 + n * costs.k
    idle = n * costs.u
    # A worker thread's cycle per piece. The scheduler keeps more than one piece on a thread while their
    # estimated work (what the workers reported) fits in --lookahead; a larger piece gets its successor sent
    # when --lookahead of it is left, so the thread waits only for what of its result leaving, the next piece
    # arriving (on its own link), a round trip and rank 0's turnaround does not fit in that.
    busy = piece_wall_s or w / costs.pieces
    held = max(1, math.floor(p.lookahead / busy)) if busy > 0 else 1
    cycle = busy
    if held == 1:
        turnaround = (out_b + in_b) / costs.pieces / rw + p.rtt_ms / 1000 + c0 / costs.pieces
        cycle += max(0.0, turnaround - p.lookahead)
    limits = {
        "workers": n * p.threads / (cycle * costs.pieces) if cycle > 0 else math.inf,
        "worker links": n * rw / max(out_b, in_b) if max(out_b, in_b) > 0 else math.inf,
        "rank 0 CPU": max(0.0, 1 - idle) / c0 if c0 > 0 else math.inf,
        "rank 0 NIC": r0 / max(out_b, in_b) if max(out_b, in_b) > 0 else math.inf,
    }
    if costs.io == "shared":
        fs_bw = p.fs_servers * link_gbps * 1e9 / 8 * p.goodput
        limits["file system"] = min(fs_bw / costs.fs_bytes if costs.fs_bytes else math.inf,
                                    p.fs_ops / p.fs_ops_per_task)
    else:
        limits["file system"] = p.disk_mbps * 1e6 / costs.fs_bytes if costs.fs_bytes else math.inf
    if host_cores is not None:
        # One machine: every rank shares its cores, and each waiting worker's polling takes its part.
        spare = max(0.0, host_cores - n * costs.worker_idle)
        limits["host CPU"] = spare / (costs.c0 + w) if costs.c0 + w > 0 else math.inf
        limits["rank 0 CPU"] = min(1.0, host_cores) * max(0.0, 1 - idle) / c0 if c0 > 0 else math.inf
        del limits["file system"]  # the namespaces share this machine's page cache
    bottleneck = min(limits, key=limits.get)
    x = limits[bottleneck]
    # Over a whole job, rank 0 first builds it (cb per task), then runs it at x: what the user sees.
    if costs.cb > 0 and x != math.inf:
        if costs.cb > 1 / x:
            bottleneck = "rank 0 CPU"
        x = 1 / (costs.cb + 1 / x)
    return {"workers": n, "link_gbps": link_gbps, "throughput": x, "bottleneck": bottleneck,
            "limits": {k: (v if v != math.inf else None) for k, v in limits.items()},
            "rank0_cpu_load": min(1.0, x * (c0 + costs.cb) + idle + costs.idle0 * max(0.0, 1 - x * (c0 + costs.cb))),
            "rank0_nic_load": x * max(out_b, in_b) / r0,
            "mp_per_s": x * costs.mp}


def bands_for(n, megapixels, threads=1):
    """granularity.cpp: about two bands per compute thread, at least 2 and at least 2 MP each."""
    return max(2, min(2 * n * threads, max(1, int(megapixels * 1e6 / 2e6))))


def predict_one_image(costs, n, link_gbps, p, host_cores=None, worker_link_gbps=None):
    """Seconds for one large image cut into bands (costs: a 1-task shape with decode/band/encode pieces, measured
    with costs.pieces pieces). Pieces that run alone (a decode returning pixels, a whole-image stage, a finish, an
    encode of the whole image) run on one worker each, their bytes crossing that worker's link and rank 0's; the
    bands spread over min(n, bands) workers.
    Since the band codecs a JPEG's bands may decode their own rows from the file (the decode piece is then a probe
    returning no pixels): every band then skips the rows above its own, so a band costs about the same whatever
    the number of bands (the measured average: an approximation, the last band skips most), and with --io mpi
    every band carries the whole file from rank 0."""
    r0 = link_gbps * 1e9 / 8 * p.goodput
    rw = (worker_link_gbps or link_gbps) * 1e9 / 8 * p.goodput
    # The pieces' CPU: their compute_ms scaled to the measured worker CPU (a busy machine inflates wall time).
    scale = costs.w / costs.compute_s if costs.compute_s > 0 else 1.0
    kind = lambda k, key: costs.kinds.get(k, {}).get(key, 0.0)
    cpu = lambda k: kind(k, "compute_ms") / 1000 * scale / p.worker_speed
    # "encode" pieces are either one piece encoding the whole image (serial) or the bands of the final image
    # encoded by the workers after a finish (parallel, like bands).
    parallel = ("band",) + (("encode",) if kind("encode", "n") > 1 else ())
    serial = tuple(k for k in ("decode", "whole", "finish", "encode") if k not in parallel)
    serial_cpu = sum(cpu(k) for k in serial)
    serial_net = sum(kind(k, "bytes_out") + kind(k, "bytes_in") for k in serial) / min(r0, rw)
    bands = bands_for(n, costs.mp, p.threads)
    busy = min(n * p.threads, bands) if host_cores is None else min(n * p.threads, bands, host_cores)
    measured_bands = sum(kind(k, "n") for k in parallel) or 1
    from_file = "decode" in costs.kinds and kind("decode", "bytes_in") < 0.01 * costs.mp * 1e6
    band_out = sum(kind(k, "bytes_out") for k in parallel)
    band_in = sum(kind(k, "bytes_in") for k in parallel)
    if from_file:
        per_band = sum(cpu(k) for k in parallel) / measured_bands
        band_cpu = math.ceil(bands / busy) * per_band if busy >= 1 else bands * per_band / max(busy, 1e-9)
        if band_out >= 0.9 * costs.input_bytes * measured_bands:  # --io mpi: the file to every band
            band_out = band_out / measured_bands * bands
    else:
        band_cpu = sum(cpu(k) for k in parallel) / busy
    band_link = min(r0, min(n, bands) * rw)
    band_net = max(band_out, band_in) / band_link
    band_net += bands / max(1, n) * p.rtt_ms / 1000
    seconds = serial_cpu + serial_net + max(band_cpu, band_net) + costs.c0
    shown = {"one worker (decode, encode)": serial_cpu, "rank 0 CPU": costs.c0,
             "rank 0 NIC": serial_net + (band_net if band_net >= band_cpu else 0),
             "workers (bands)": band_cpu if band_cpu > band_net else 0}
    return {"workers": n, "link_gbps": link_gbps, "seconds": seconds, "bands": bands,
            "bottleneck": max(shown, key=shown.get), "parts": shown}


# ============================================================================= tables
def load_costs(path):
    result = json.loads(Path(path).read_text())
    if not result.get("costs"):
        sys.exit(f"model: {path} has no derived costs (a failed bench/costs.sh run?)")
    return result, {(c["shape"], c["io"]): Costs(c, result) for c in result["costs"]}


def fmt_rate(x):
    if x is None or x == math.inf:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def scale_table(costs, p):
    """Markdown: for each shape, data path and link, throughput and bottleneck at TABLE_WORKERS, and where
    adding workers stops paying (the first N past which X grows by < 10% when N doubles)."""
    lines = ["| shape | data path | link | " + " | ".join(f"{n} workers" for n in TABLE_WORKERS) + " | stops growing at |",
             "|---|---|---|" + "---|" * (len(TABLE_WORKERS) + 1)]
    for (shape, io), c in sorted(costs.items()):
        if c.single:
            continue  # one image in bands: see the latency table
        for link in LINKS_GBPS:
            cells = []
            for n in TABLE_WORKERS:
                r = predict(c, n, link, p)
                cells.append(f"{fmt_rate(r['throughput'])} ({short(r['bottleneck'])})")
            knee = "-"
            for n in WORKERS:
                if predict(c, 2 * n, link, p)["throughput"] < 1.1 * predict(c, n, link, p)["throughput"]:
                    knee = f"~{n} ({predict(c, 2 * n, link, p)['bottleneck']})"
                    break
            lines.append(f"| {shape} | {io_name(io)} | {link} Gbit/s | " + " | ".join(cells) + f" | {knee} |")
    return "\n".join(lines)


def latency_table(costs, p):
    lines = ["| image | data path | link | " + " | ".join(f"{n} workers" for n in (1, 2, 4, 8, 16, 64)) + " |",
             "|---|---|---|" + "---|" * 6]
    for (shape, io), c in sorted(costs.items()):
        if not c.single:
            continue
        for link in LINKS_GBPS:
            cells = [f"{r['seconds']:.2f} s ({short(r['bottleneck'])})"
                     for r in (predict_one_image(c, n, link, p) for n in (1, 2, 4, 8, 16, 64))]
            lines.append(f"| {shape} ({c.mp:.0f} MP) | {io_name(io)} | {link} Gbit/s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def short(bottleneck):
    return {"workers": "W", "rank 0 CPU": "R0-CPU", "rank 0 NIC": "R0-NIC", "file system": "FS",
            "host CPU": "host", "worker links": "W-link", "one worker (decode, encode)": "1 worker",
            "workers (bands)": "W"}.get(bottleneck, bottleneck)


def io_name(io):
    return {"shared": "names (--io shared)", "mpi": "bytes (--io mpi)"}.get(io, io)


def costs_table(costs, result):
    m = result.get("meta", {})
    lines = [f"costs measured {m.get('date')} {m.get('revision', '')}, {m.get('nproc')} cores, load average "
             f"{m.get('loadavg')} (a shared machine: noisy){'; QUICK MODE stand-ins' if m.get('quick') else ''}",
             "| shape | data path | MP/task | pieces/task | rank 0 CPU us/task (c0) | + building the job (cb) | + per worker (k) "
             "| bytes out/task | bytes in/task | worker CPU ms/task (w) | files MB/task |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (shape, io), c in sorted(costs.items()):
        lines.append(f"| {shape} | {io} | {c.mp:.3g} | {c.pieces:.3g} | {c.c0 * 1e6:,.0f} | {c.cb * 1e6:,.0f} | {c.k * 1e9:,.0f} ns | "
                     f"{c.b_out / 1e6:,.3f} MB | {c.b_in / 1e6:,.3f} MB | {c.w * 1e3:,.1f} | {c.fs_bytes / 1e6:,.2f} |")
    any_c = next(iter(costs.values()))
    lines.append(f"rank 0 while waiting: {any_c.idle0 * 100:.2f}% of a core, + u = {any_c.u * 1e6:.1f} us/s per worker; "
                 f"a waiting worker: {any_c.worker_idle * 100:.2f}% of a core")
    return "\n".join(lines)


# ============================================================================= plots
def rank0_ceiling(c, prediction):
    """Tasks/s rank 0 alone allows over a whole job (building it, then running it); inf when it costs nothing
    measurable."""
    per_task = c.cb + 1 / (prediction["limits"]["rank 0 CPU"] or math.inf)
    return 1 / per_task if per_task > 0 else math.inf


def plot_shapes(costs, p, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shapes = sorted({s for (s, _), c in costs.items() if not c.single})
    written = []
    for shape in shapes:
        ios = [io for io in ("shared", "mpi") if (shape, io) in costs]
        fig, axes = plt.subplots(2, len(ios), figsize=(6.2 * len(ios), 8.4), squeeze=False, sharex=True)
        for col, io in enumerate(ios):
            c = costs[(shape, io)]
            ax, load_ax = axes[0][col], axes[1][col]
            ideal = [n * p.threads / c.w * p.worker_speed for n in WORKERS]
            ax.plot(WORKERS, ideal, color="#bbbbbb", lw=1, ls="--", label="workers alone (no other limit)")
            # Rank 0's own ceiling (the same on every link): what is left when the file system scales.
            ceiling = [rank0_ceiling(c, predict(c, n, LINKS_GBPS[-1], p)) for n in WORKERS]
            ax.plot(WORKERS, ceiling, color=BOTTLENECK_COLOURS["rank 0 CPU"], lw=0.9, ls="-.")
            for li, link in enumerate(LINKS_GBPS):
                rs = [predict(c, n, link, p) for n in WORKERS]
                style = ["-", "--", ":"][li]
                draw_segments(ax, WORKERS, [r["throughput"] for r in rs], [r["bottleneck"] for r in rs], style)
                load_ax.plot(WORKERS, [100 * r["rank0_cpu_load"] for r in rs], color="#e76f51", ls=style)
                load_ax.plot(WORKERS, [100 * r["rank0_nic_load"] for r in rs], color="#264653", ls=style)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{SHAPE_TITLES.get(shape, shape)}, {c.op}: {io_name(io)}")
            ax.set_ylabel("tasks per second")
            ax.grid(True, which="both", alpha=0.25)
            load_ax.set_xscale("log")
            load_ax.set_ylim(0, 105)
            load_ax.set_ylabel("rank 0 load, % (CPU: red; NIC: dark)")
            load_ax.set_xlabel("workers (one core each)")
            load_ax.grid(True, which="both", alpha=0.25)
        add_legends(axes[0][0], plt)
        fig.suptitle(f"dips model: {SHAPE_TITLES.get(shape, shape)} (line style: rank 0's link 1 / 10 / 100 Gbit/s; "
                     "colour: the bottleneck)", fontsize=10)
        fig.tight_layout()
        path = Path(out) / f"scaling-{shape}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def draw_segments(ax, xs, ys, names, style, marker=None, lw=2.2):
    """A curve coloured by its bottleneck, segment by segment."""
    start = 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or names[i] != names[start]:
            seg_x, seg_y = xs[start:i + 1], ys[start:i + 1]
            ax.plot(seg_x, seg_y, ls=style, lw=lw, color=BOTTLENECK_COLOURS.get(names[start], "black"), marker=marker)
            start = i


def add_legends(ax, plt):
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=BOTTLENECK_COLOURS[name], lw=2.2, label=name)
               for name in ("workers", "worker links", "rank 0 CPU", "rank 0 NIC", "file system")]
    handles += [Line2D([], [], color="black", ls=s, label=f"{l} Gbit/s") for s, l in zip(["-", "--", ":"], LINKS_GBPS)]
    handles.append(Line2D([], [], color="#bbbbbb", ls="--", label="workers alone"))
    handles.append(Line2D([], [], color=BOTTLENECK_COLOURS["rank 0 CPU"], lw=0.9, ls="-.", label="rank 0 CPU ceiling"))
    ax.legend(handles=handles, fontsize=7, loc="upper left")


def plot_one_image(costs, p, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    items = [(k, c) for k, c in sorted(costs.items()) if c.single]
    if not items:
        return []
    ns = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    fig, axes = plt.subplots(1, len(items), figsize=(6.2 * len(items), 4.6), squeeze=False)
    for ax, ((shape, io), c) in zip(axes[0], items):
        for li, link in enumerate(LINKS_GBPS):
            rs = [predict_one_image(c, n, link, p) for n in ns]
            draw_segments(ax, ns, [r["seconds"] for r in rs], [r["bottleneck"] for r in rs], ["-", "--", ":"][li],
                          marker="o")
        ax.set_xscale("log")
        ax.set_title(f"{SHAPE_TITLES.get(shape, shape)} ({c.mp:.0f} MP), {c.op}: {io_name(io)}", fontsize=9)
        ax.set_xlabel("workers")
        ax.set_ylabel("seconds for the image")
        ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.25)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=BOTTLENECK_COLOURS[k], lw=2.2, label=k)
               for k in ("one worker (decode, encode)", "workers (bands)", "rank 0 NIC", "rank 0 CPU")]
    handles += [Line2D([], [], color="black", ls=s, label=f"{l} Gbit/s") for s, l in zip(["-", "--", ":"], LINKS_GBPS)]
    axes[0][0].legend(handles=handles, fontsize=7)
    fig.suptitle("dips model: one large image in bands (colour: the largest part of the time)", fontsize=10)
    fig.tight_layout()
    path = Path(out) / "scaling-xlarge.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


# ============================================================================= the rehearsal's check
def rehearsal_conditions(p, rehearsal, run):
    """The model's parameters for one rehearsal run: its measured round trip, tc's accounting of a link."""
    q = argparse.Namespace(**vars(p))
    q.goodput = rehearsal["meta"].get("goodput", p.goodput)
    if run.get("rtt_ms") is not None:
        q.rtt_ms = run["rtt_ms"]
    return q


def piece_wall(run):
    """How long a piece kept a worker thread busy in a rehearsal run (its compute_ms: wall time, longer than
    its CPU time on a shared machine)."""
    return run["compute_ms"] / 1000 / run["pieces"] if run.get("pieces") else None


def rehearsal_points(rehearsal, costs, p):
    """Each measured point of the rehearsal with the model's prediction for its conditions: its links, its round
    trip, and the cores the rest of the machine left free during the run (nproc - other load)."""
    rows = []
    for r in rehearsal["runs"]:
        if r.get("error") or not r.get("wall_s"):
            continue
        c = costs.get((r["shape"], r["io"]))
        if c is None:
            continue
        q = rehearsal_conditions(p, rehearsal, r)
        cores = max(0.3, rehearsal["meta"]["nproc"] - r.get("other_cores", 0.0))
        row = dict(r, cores=cores)
        wire_out, wire_in = wire_bytes(c, q)
        row["model_wire_mb_per_task"] = (wire_out + wire_in) / q.goodput / 1e6
        row["wire_mb_per_task"] = (r["rank0_tx_bytes"] + r["rank0_rx_bytes"]) / r["tasks"] / 1e6
        if c.single:
            pred = predict_one_image(c, r["workers"], r["rank0_gbps"], q, host_cores=cores,
                                     worker_link_gbps=r["worker_gbps"])
            row.update(predicted=pred["seconds"], measured=r["wall_s"], unit="s/image", bottleneck=pred["bottleneck"])
        else:
            pred = predict(c, r["workers"], r["rank0_gbps"], q, r["worker_gbps"], host_cores=cores,
                           piece_wall_s=piece_wall(r))
            row.update(predicted=pred["throughput"], measured=r["tasks"] / r["wall_s"], unit="tasks/s",
                       bottleneck=pred["bottleneck"], limits=pred["limits"],
                       predicted_rank0_cpu=pred["rank0_cpu_load"], measured_rank0_cpu=r["rank0_cpu_s"] / r["wall_s"])
        row["ratio"] = row["measured"] / row["predicted"] if row["predicted"] else None
        rows.append(row)
    return rows


def check_table(rows):
    lines = ["| job | data path | links rank 0 / workers | workers | measured | model | measured / model | model's bottleneck "
             "| rank 0 CPU measured / model | rank 0 link MB/task measured / model | free cores | |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = "" if r["ratio"] is None or abs(r["ratio"] - 1) <= 0.25 else "**>25%**"
        r0 = "-"
        if r.get("measured_rank0_cpu") is not None:
            r0 = f"{100 * r['measured_rank0_cpu']:.1f}% / {100 * r['predicted_rank0_cpu']:.1f}%"
        wire = f"{r['wire_mb_per_task']:.3g} / {r['model_wire_mb_per_task']:.3g}"
        lines.append(f"| {r['shape']} | {io_name(r['io'])} | {r['rank0_rate']} / {r['worker_rate']} | {r['workers']} | "
                     f"{fmt_rate(r['measured'])} {r['unit']} | {fmt_rate(r['predicted'])} | "
                     f"{r['ratio']:.2f} | {r['bottleneck']} | {r0} | {wire} | {r['cores']:.2f} | {flag} |")
    return "\n".join(lines)


def plot_rehearsal(rows, rehearsal, costs, p, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = {}
    for r in rows:
        groups.setdefault((r["shape"], r["rank0_rate"], r["worker_rate"]), []).append(r)
    written = []
    for (shape, rate0, ratew), pts in sorted(groups.items()):
        ios = sorted({r["io"] for r in pts}, reverse=True)
        fig, axes = plt.subplots(1, len(ios), figsize=(6 * len(ios), 4.4), squeeze=False)
        for ax, io in zip(axes[0], ios):
            mine = [r for r in pts if r["io"] == io]
            c = costs[(shape, io)]
            ns = list(range(1, max(r["workers"] for r in mine) + 1))
            cores = sorted(r["cores"] for r in mine)[len(mine) // 2]
            g0, gw = mine[0]["rank0_gbps"], mine[0]["worker_gbps"]
            q = rehearsal_conditions(p, rehearsal, mine[0])
            if c.single:
                rs = [predict_one_image(c, n, g0, q, host_cores=cores, worker_link_gbps=gw) for n in ns]
                ys = [r["seconds"] for r in rs]
                ax.set_ylabel("seconds for the image")
            else:
                walls = sorted(piece_wall(r) for r in mine)
                rs = [predict(c, n, g0, q, gw, host_cores=cores, piece_wall_s=walls[len(walls) // 2]) for n in ns]
                ys = [r["throughput"] for r in rs]
                ax.set_ylabel("tasks per second")
            draw_segments(ax, ns, ys, [r["bottleneck"] for r in rs], "-")
            if not c.single:  # the ceilings, thin: which limit is near
                for name in ("rank 0 NIC", "worker links", "host CPU", "rank 0 CPU"):
                    ceiling = [r["limits"].get(name) for r in rs]
                    if all(v is not None for v in ceiling) and min(ceiling) < 3 * max(ys):
                        ax.plot(ns, ceiling, lw=0.8, ls="--", color=BOTTLENECK_COLOURS[name])
            ax.scatter([r["workers"] for r in mine], [r["predicted"] for r in mine], facecolors="none",
                       edgecolors="black", zorder=4, label="model for that run's free cores")
            ax.scatter([r["workers"] for r in mine], [r["measured"] for r in mine], color="black", zorder=5,
                       label="measured (rehearsal)")
            for r in mine:
                if r["ratio"] is not None and abs(r["ratio"] - 1) > 0.25:
                    ax.annotate(f"{r['ratio']:.2f}x", (r["workers"], r["measured"]), fontsize=7,
                                textcoords="offset points", xytext=(4, 4))
            from matplotlib.lines import Line2D
            names = sorted({r["bottleneck"] for r in rs})
            handles = ax.get_legend_handles_labels()[0] + [
                Line2D([], [], color=BOTTLENECK_COLOURS.get(n, "black"), lw=2.2, label=f"model: {n}") for n in names]
            if not c.single:
                handles.append(Line2D([], [], color="grey", lw=0.8, ls="--", label="other limits (colour: which)"))
            ax.legend(handles=handles, fontsize=7)
            ax.set_ylim(bottom=0)
            ax.set_xlabel("workers (namespace hosts)")
            ax.set_title(f"{SHAPE_TITLES.get(shape, shape)}: {io_name(io)}\nrank 0 link {rate0}, workers' {ratew}; "
                         f"model for {cores:.1f} free cores", fontsize=9)
            ax.grid(True, alpha=0.25)
        fig.tight_layout()
        path = Path(out) / f"rehearsal-{shape}-{rate0}-{ratew}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


# ============================================================================= main
def main(argv=None):
    p = parameters(argv)
    result, costs = load_costs(p.costs)
    out = Path(p.out)
    out.mkdir(parents=True, exist_ok=True)
    text = ["# dips scaling model", "", costs_table(costs, result), "",
            "## Throughput (tasks/s) and bottleneck by workers: W workers, R0-CPU / R0-NIC rank 0's CPU / link, "
            "FS the file system (--io shared: the file server; --io mpi: rank 0's disk)", "", scale_table(costs, p)]
    lat = latency_table(costs, p)
    if lat.count("\n") > 1:
        text += ["", "## One image in bands: seconds (the largest part of the time)", "", lat]
    model = {"parameters": vars(p), "curves": []}
    for (shape, io), c in sorted(costs.items()):
        for link in LINKS_GBPS:
            f = predict_one_image if c.single else predict
            model["curves"].append({"shape": shape, "io": io, "link_gbps": link,
                                    "points": [f(c, n, link, p) for n in WORKERS]})
    rows = []
    if p.rehearsal:
        rehearsal = json.loads(Path(p.rehearsal).read_text())
        # The costs given with --costs win; those the rehearsal was sized with fill in the jobs they lack.
        rcosts = dict(load_costs(p.rehearsal)[1]) if rehearsal.get("costs") else {}
        rcosts.update(costs)
        rows = rehearsal_points(rehearsal, rcosts, p)
        text += ["", "## Rehearsal: measured against the model for its conditions", "", check_table(rows)]
        model["rehearsal"] = rows
    (out / "table.md").write_text("\n".join(text) + "\n")
    if p.json:
        (out / "model.json").write_text(json.dumps(model, indent=1, default=str) + "\n")
    print("\n".join(text))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("model: python3-matplotlib is not installed: no plots (apt-get install python3-matplotlib)", file=sys.stderr)
        return 0
    written = plot_shapes(costs, p, out) + plot_one_image(costs, p, out)
    if rows:
        written += plot_rehearsal(rows, rehearsal, rcosts, p, out)
    print("\nplots: " + ", ".join(str(w) for w in written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
