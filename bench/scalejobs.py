#!/usr/bin/env python3
"""The job shapes of the scaling measurements, and how one dips run becomes per-task numbers. Shared by
bench/costs.py (per-piece costs on this machine) and bench/rehearsal.py (the same jobs across network
namespace hosts). Python 3 standard library; the quick mode's generated stand-ins need python3-opencv.

A shape is a list of tasks (input file, output path relative to the output folder) and one operation,
given to dips as a manifest, so that a shape can list the same files several times (copy k goes to cK/).
"""
import json
import os
import subprocess
import time
from pathlib import Path

import benchlib

# name: (what it stands for, the operation: CPU-light, so that the codecs and the data path dominate)
SHAPES = {
    "thumbs": ("64x64 PNG thumbnails", "grayscale"),
    "photos": ("1-4 MP photos (JPEG and PNG)", "grayscale"),
    "large": ("8-20 MP photos (JPEG and PNG)", "grayscale"),
    "xlarge": ("one 50 MP photo (JPEG), cut into bands", "grayscale"),
    "photos-bmp": ("1-4 MP photos as BMP (no codec cost: the data path shows)", "color_inversion"),
}
# Tasks per shape: (full, quick). Thumbnails need many tasks for rank 0's per-task cost to stand out of its
# start-up; a photo is a few tens of ms of work per task already.
COUNTS = {"thumbs": (4000, 400), "photos": (62, 6), "large": (8, 2), "xlarge": (1, 1), "photos-bmp": (62, 6)}
# Fewer under callgrind (rank 0 runs ~50x slower; instruction counts need no repetition).
CALLGRIND_COUNTS = {"thumbs": (400, 100), "photos": (8, 3), "large": (2, 1), "xlarge": (1, 1), "photos-bmp": (8, 3)}
QUICK_SIZES = {"photos": (2000, 1500), "large": (4000, 3000), "xlarge": (6000, 4000)}  # generated stand-ins


class Shape:
    def __init__(self, name, tasks, op=None, label=None, guard=None):
        self.name = name
        self.label = label or SHAPES[name][0]
        self.op = op or SHAPES[name][1]
        self.tasks = tasks  # [(input, output relative to the output folder)]
        self.guard = guard  # a thumbnail for tail guards (with_guards)
        self.guards = []

    def with_guards(self, threads):
        """The same shape followed by threads - 1 thumbnail tasks (outputs guard/N.png, left out of the sums):
        dips cuts a large image into bands when fewer tasks than worker threads are left (granularity.h),
        and a batch's costs are those of whole files, not of its tail. bench/costs.py's baseline (one
        thumbnail) cancels one guard."""
        shape = Shape(self.name, self.tasks, self.op, self.label, self.guard)
        if self.name != "xlarge" and self.guard:
            shape.guards = [(self.guard, f"guard/{i}.png") for i in range(1, threads)]
        return shape

    def manifest(self, path):
        """Writes the dips manifest of this shape to path; returns path."""
        tasks = self.tasks + [(inp, out) for inp, out in self.guards]
        ops = [self.op] * len(self.tasks) + ["grayscale"] * len(self.guards)
        Path(path).write_text("".join(f"{inp}\t{op}\t{out}\n" for (inp, out), op in zip(tasks, ops)))
        return Path(path)

    def first(self, count):
        return Shape(self.name, self.tasks[:count], self.op, self.label, self.guard)

    def describe(self):
        inputs = sorted({t[0] for t in self.tasks})
        return {"shape": self.name, "label": self.label, "op": self.op, "tasks": len(self.tasks),
                "distinct_inputs": len(inputs), "guards": len(self.guards)}


def images_in(folder, suffixes=(".png", ".jpg", ".jpeg", ".bmp")):
    return sorted(str(p) for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def copies(files, count, ext=None):
    """count tasks cycling over files; copy k of a file goes to cK/NAME (ext replaces the suffix if given)."""
    tasks = []
    for i in range(count):
        f = files[i % len(files)]
        name = Path(f).name if ext is None else Path(f).stem + ext
        tasks.append((f, f"c{i // len(files) + 1}/{name}"))
    return tasks


# ----------------------------------------------------------------------------- inputs
def corpus_inputs(corpus, name, cache):
    """The input files of a shape from bench/make-corpus.sh's corpus (photos-bmp: medium/ converted to BMP
    once into cache/, with dips itself: `resize` without a size leaves the pixels as they are)."""
    c = Path(corpus)
    if name == "thumbs":
        return images_in(c / "thumbs")
    if name == "photos":
        return images_in(c / "medium")
    if name == "large":
        return images_in(c / "large")
    if name == "xlarge":
        return [f for f in images_in(c / "xlarge") if f.lower().endswith(".jpg")]
    if name == "photos-bmp":
        return bmp_copies(images_in(c / "medium"), Path(cache) / "medium-bmp")
    raise ValueError(name)


def bmp_copies(files, folder):
    folder = Path(folder)
    want = [folder / (Path(f).stem + ".bmp") for f in files]
    if not all(p.exists() for p in want):
        dips = os.environ.get("DIPS_BIN") or str(Path(__file__).resolve().parent.parent / "build" / "dips")
        folder.mkdir(parents=True, exist_ok=True)
        manifest = folder / "convert.tsv"
        manifest.write_text("".join(f"{f}\tresize\t{w.name}\n" for f, w in zip(files, want)))
        subprocess.run([dips, "--quiet", "--overwrite", "--manifest", str(manifest), "--output", str(folder),
                        "--report", str(folder / "convert-report.jsonl")], check=True)
    return [str(p) for p in want]


def standin_inputs(name, cache):
    """Generated stand-ins for the quick mode (no corpus needed): photo-like images (smooth random colour
    fields plus grain), deterministic. Their codec costs differ from real photos': quick numbers check the
    scripts, they do not measure dips."""
    import cv2
    import numpy as np
    folder = Path(cache) / "standins"
    folder.mkdir(parents=True, exist_ok=True)

    def photo_like(w, h, seed):
        rng = np.random.default_rng(seed)
        field = rng.integers(0, 256, (h // 48 + 2, w // 48 + 2, 3), dtype=np.uint8)
        img = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        img += rng.normal(0, 5, img.shape).astype(np.int16)
        return np.clip(img, 0, 255).astype(np.uint8)

    def make(path, image, params=()):
        if not path.exists():
            cv2.imwrite(str(path), image, list(params))
        return str(path)

    if name == "thumbs":
        sheet = None
        out = []
        for i in range(400):
            path = folder / f"t{i:05d}.png"
            if not path.exists():
                if sheet is None:
                    sheet = photo_like(1280, 1280, 7)
                r, c = divmod(i, 20)
                make(path, sheet[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64])
            out.append(str(path))
        return out
    if name in ("photos", "photos-bmp"):
        w, h = QUICK_SIZES["photos"]
        ext = ".bmp" if name == "photos-bmp" else ".jpg"
        return [make(folder / f"photo{i}{ext}", photo_like(w, h, 10 + i), [cv2.IMWRITE_JPEG_QUALITY, 90]) for i in range(3)]
    if name in ("large", "xlarge"):
        w, h = QUICK_SIZES[name]
        return [make(folder / f"{name}{i}.jpg", photo_like(w, h, 20 + i), [cv2.IMWRITE_JPEG_QUALITY, 90])
                for i in range(2 if name == "large" else 1)]
    raise ValueError(name)


def build_shape(name, corpus, cache, quick, callgrind=False):
    """The shape's tasks: from the corpus, or generated stand-ins when quick (or when corpus is None)."""
    counts = CALLGRIND_COUNTS if callgrind else COUNTS
    count = counts[name][1 if quick else 0]
    generated = quick or corpus is None
    files = standin_inputs(name, cache) if generated else corpus_inputs(corpus, name, cache)
    guard = (standin_inputs("thumbs", cache) if generated else corpus_inputs(corpus, "thumbs", cache))[0]
    ext = ".bmp" if name == "photos-bmp" else None
    return Shape(name, copies(files, count, ext), guard=guard)


# ----------------------------------------------------------------------------- one run
def run_job(prefix, shape, io, out, manifest_dir, env, extra_args=(), timeout=1800, log=None, cpu_dir=None):
    """Runs dips on the shape (prefix: the launcher up to and including its `--`), io mode `io`, into a fresh
    output folder `out`. Returns the run's record: walls, CPU, the load of the rest of the machine, the
    report's per-task sums (parse_report) and, with cpu_dir (rank_wrapper), the workers' CPU seconds."""
    manifest = shape.manifest(Path(manifest_dir) / f"{shape.name}-{len(shape.tasks)}.tsv")
    cmd = list(prefix) + list(extra_args) + ["--quiet", "--io", io, "--manifest", str(manifest), "--output", str(out)]
    os.sync()  # the previous run's writeback must not land in this run
    meter = benchlib.LoadMeter()
    with open(log or os.devnull, "ab") as sink:
        try:
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    load = meter.read()
    record = {"shape": shape.name, "io": io, "op": shape.op, "exit": code, "command": cmd,
              "outside_wall_s": load["wall_s"], "cpu_s": load["cpu_s"], "steal_cores": load["steal_cores"]}
    record.update(parse_report(Path(out) / "report.jsonl"))
    own = load["cpu_s"]
    if cpu_dir:
        record["workers_cpu_s"], record["workers_reporting"] = take_worker_cpu(cpu_dir)
        # Ranks started through a launcher agent (the namespace hosts) are not always reaped into our children's
        # CPU: count at least what rank 0 and the workers say they used.
        own = max(own, (record.get("rank0_cpu_s") or 0.0) + record["workers_cpu_s"])
    busy = load["other_cores"] * load["wall_s"] + load["cpu_s"]
    record["other_cores"] = round(max(0.0, busy - own) / load["wall_s"], 3) if load["wall_s"] > 0 else 0.0
    if code != 0:
        record["error"] = f"exit {code}"
    elif record.get("ok") != len(shape.tasks) or record.get("guards_ok") != len(shape.guards):
        record["error"] = f"{record.get('ok')} of {len(shape.tasks)} tasks ok ({record.get('guards_ok')} of {len(shape.guards)} guards)"
    return record


def parse_report(path):
    """Sums over a dips report's task lines (pieces' bytes each way, compute and queue time, by kind of
    piece), the files' sizes on disk, and the summary's wall_s, rank0_cpu_s, io. Guard tasks (outputs under
    guard/) are only counted."""
    sums = {"ok": 0, "guards_ok": 0, "failed": 0, "pieces": 0, "bytes_out": 0, "bytes_in": 0, "compute_ms": 0.0, "queue_ms": 0.0,
            "megapixels": 0.0, "input_bytes": 0, "output_bytes": 0, "kinds": {}}
    summary = None
    try:
        f = open(path)
    except OSError:
        return {"report_error": f"no report at {path}"}
    with f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if "summary" in j:
                summary = j["summary"]
                continue
            if "input" not in j:
                continue
            if j.get("status") != "ok":
                sums["failed"] += 1
                continue
            if "/guard/" in j["output"]:  # Shape.with_guards: not part of the shape
                sums["guards_ok"] += 1
                continue
            sums["ok"] += 1
            sums["megapixels"] += j.get("width", 0) * j.get("height", 0) / 1e6
            for p in (j["input"], j["output"]):
                try:
                    sums["input_bytes" if p == j["input"] else "output_bytes"] += os.stat(p).st_size
                except OSError:
                    pass
            for piece in j.get("pieces", []):
                sums["pieces"] += 1
                k = sums["kinds"].setdefault(piece["kind"], {"n": 0, "compute_ms": 0.0, "bytes_out": 0, "bytes_in": 0})
                k["n"] += 1
                for key in ("compute_ms", "bytes_out", "bytes_in"):
                    k[key] += piece.get(key, 0)
                    sums[key] += piece.get(key, 0)
                sums["queue_ms"] += piece.get("queue_ms", 0)
    if summary is not None:
        for key in ("wall_s", "rank0_cpu_s", "io", "workers", "workers_lost", "rank0_peak_rss_mb"):
            sums[key] = summary.get(key)
    else:
        sums["report_error"] = "no summary line"
    return sums


def rank_wrapper(path, dips, cpu_dir, callgrind_dir=None):
    """Writes an executable to give scripts/dips-run as DIPS_BIN: every worker rank runs dips as a child and
    then writes the CPU time it used (user + system, from the shell's `times`) to cpu_dir/cpu.RANK.PID, so
    that worker CPU per task is known on a busy machine, where the pieces' compute_ms (wall time) is inflated
    by other processes. With callgrind_dir, rank 0 runs under valgrind's callgrind (instruction counts:
    repeatable on a busy machine) and writes callgrind_dir/callgrind.PID; otherwise it runs as it is."""
    rank0 = (f'  exec valgrind --tool=callgrind --callgrind-out-file={callgrind_dir}/callgrind.%p "{dips}" "$@"\n'
             if callgrind_dir else f'  exec "{dips}" "$@"\n')
    Path(path).write_text(
        "#!/bin/bash\n"
        "# bench/scalejobs.py: workers report their CPU time at exit; rank 0 runs as it is or under callgrind\n"
        'if [ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ]; then\n' + rank0 + "fi\n"
        f'"{dips}" "$@"\n'
        "code=$?\n"
        f'times > "{cpu_dir}/cpu.$OMPI_COMM_WORLD_RANK.$$"\n'
        "exit $code\n")
    os.chmod(path, 0o755)
    return Path(path)


def take_worker_cpu(cpu_dir):
    """Sum of the CPU seconds the workers wrote (rank_wrapper), and how many did; removes the files."""
    total, count = 0.0, 0
    for f in Path(cpu_dir).glob("cpu.*"):
        # `times`' second line is its children's: "0m1.234s 0m0.567s" (user, system)
        for field in f.read_text().splitlines()[-1].split():
            minutes, _, seconds = field.rstrip("s").partition("m")
            try:
                total += int(minutes) * 60 + float(seconds)
            except ValueError:
                pass
        count += 1
        f.unlink()
    return total, count


def callgrind_total(out_dir):
    """(all instructions, those of building the job) of the one callgrind output in out_dir (every thread of
    rank 0), then removes it. Building the job (dips::build_job: reading the manifest, checking every output
    path) happens once, before the coordinator starts: the model keeps it apart."""
    files = list(Path(out_dir).glob("callgrind.*"))
    if len(files) != 1:
        for f in files:
            f.unlink()
        return None, None
    total = build = None
    for line in files[0].read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
            break
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(files[0])], capture_output=True,
                               text=True).stdout
    for line in annotated.splitlines():
        if "dips::build_job(" in line and line.strip()[:1].isdigit():
            build = int(line.split()[0].replace(",", ""))
            break
    files[0].unlink()
    return total, build


def wait_for_quiet(max_wait, threshold=0.3):
    """benchlib.wait_quiet, returning (waited s, load in cores); 0 waits not at all."""
    if max_wait <= 0:
        return 0.0, None
    return benchlib.wait_quiet(max_wait, threshold)


def now_stamp():
    return time.strftime("%Y%m%d-%H%M%S")
