#!/usr/bin/env python3
"""bench/rehearsal.sh's driver (root): dips across network namespace hosts whose links are shaped with tc, in
both data paths, against the model's prediction for the same conditions (bench/model.py).

  rehearsal.py run --bin DIR --work DIR --cache DIR --results FILE.json --costs LOCAL_COSTS.json --cluster SCRIPT
                   [--corpus DIR] [--quick] [--hosts N] [--scenarios LIST] [--workers LIST] [--jobs LIST]
                   [--io LIST] [--seconds S] [--delay D]

A scenario is RATE0/RATE (rank 0's link / every worker's) or RATE (all links alike), rates as tc writes them.
Per scenario: the links are shaped, one TCP stream measures what a worker-to-rank-0 link carries here (on a
busy machine the CPU may not reach the shaped rate), then every job, data path and worker count runs once,
sized from the model's prediction to last about --seconds. Each run records dips' report (wall_s,
rank0_cpu_s), the workers' CPU, and the bytes rank 0's host sent and received (its eth0 counters).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import model
import scalejobs

PROBE_PORT = 5599


def gbps(rate):
    """tc's rate words (100mbit, 1gbit, 500kbit) in Gbit/s."""
    r = rate.lower()
    for unit, scale in (("gbit", 1.0), ("mbit", 1e-3), ("kbit", 1e-6)):
        if r.endswith(unit):
            return float(r[: -len(unit)]) * scale
    raise ValueError(f"cannot read the rate '{rate}' (e.g. 100mbit, 1gbit)")


def parse_scenario(text):
    rate0, _, rate = text.partition("/")
    return rate0, rate or rate0


class Cluster:
    """scripts/netns-cluster.sh with its own namespace prefix and state folder."""

    def __init__(self, script, hosts):
        self.script = script
        self.hosts = hosts
        self.vars = {"DIPS_NETNS_PREFIX": "dipsr", "DIPS_NETNS_STATE": "/tmp/dips-netns-rehearsal"}
        self.env = dict(os.environ, **self.vars)
        self.prefix = "dipsr"

    def call(self, *args, check=True):
        return subprocess.run([self.script, *args], env=self.env, check=check, capture_output=True, text=True)

    def up(self):
        self.call("up", str(self.hosts))

    def shape(self, rate0, rate, delay):
        args = ["shape", rate, "--rate0", rate0] + (["--delay", delay] if delay else [])
        self.call(*args)

    def down(self):
        self.call("down", check=False)

    def counters(self, host=0):
        rx, tx = self.call("counters", str(host)).stdout.split()
        return int(rx), int(tx)

    def ns(self, host):
        return f"{self.prefix}{host}"

    def address(self, host):
        return f"10.77.0.1{host}"


def probe_link(cluster, seconds=2.0):
    """One TCP stream from host 1 to host 0 for `seconds`, and 200 small round trips: (Gbit/s of payload, RTT ms).
    Runs this same file in the namespaces (--probe-server / --probe-client)."""
    me = str(Path(__file__).resolve())
    server = subprocess.Popen(["ip", "netns", "exec", cluster.ns(0), sys.executable, me, "probe-server",
                               cluster.address(0)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    client = subprocess.run(["ip", "netns", "exec", cluster.ns(1), sys.executable, me, "probe-client",
                             cluster.address(0), str(seconds)], capture_output=True, text=True)
    out, _ = server.communicate(timeout=60)
    try:
        rate = float(out.split()[0])
        rtt = float(client.stdout.split()[0])
    except (IndexError, ValueError):
        return None, None
    return rate, rtt


def probe_server(address):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, PROBE_PORT))
    s.listen(1)
    c, _ = s.accept()
    for _ in range(200):  # round trips first
        c.sendall(c.recv(1))
    n, t0 = 0, None
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        n += len(b)
    print(f"{n * 8 / 1e9 / (time.monotonic() - t0):.4f}")


def probe_client(address, seconds):
    s = socket.create_connection((address, PROBE_PORT))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    for _ in range(200):
        s.sendall(b"x")
        s.recv(1)
    rtt_ms = (time.monotonic() - t0) / 200 * 1000
    buf = b"x" * (1 << 20)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(buf)
    s.close()
    print(f"{rtt_ms:.4f}")


def run(args):
    if os.geteuid() != 0:
        print("rehearsal: needs root (network namespaces, tc)", file=sys.stderr)
        return 77
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cpu_dir = work / "cpu"
    cpu_dir.mkdir(exist_ok=True)
    wrapper = scalejobs.rank_wrapper(work / "dips-ranks", Path(args.bin) / "dips", cpu_dir)
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.hugetlb=1", DIPS_BIN=str(wrapper))
    local = json.loads(Path(args.costs).read_text())
    _, costs = model.load_costs(args.costs)
    p = model.parameters(["--costs", args.costs, "--out", str(work), "--goodput", "0.956"])
    corpus = None if args.quick else args.corpus
    jobs = [j for j in args.jobs.split(",") if j]
    shapes = {j: scalejobs.build_shape(j, corpus, args.cache, args.quick) for j in jobs}
    workers = [int(n) for n in args.workers.split(",") if n]
    ios = [i for i in args.io.split(",") if i]
    cluster = Cluster(args.cluster, args.hosts)
    if max(workers) + 1 > args.hosts:
        sys.exit(f"rehearsal: {max(workers)} workers need {max(workers) + 1} hosts (--hosts)")
    result = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": args.command,
                       "revision": args.revision, "nproc": os.cpu_count(), "loadavg": list(os.getloadavg()),
                       "hosts": args.hosts, "delay": args.delay or "none", "quick": args.quick,
                       "goodput": 0.956, "costs_file": args.costs},
              "scenarios": [], "runs": []}
    # The model reads the local costs from the rehearsal's results too: one file holds what was compared.
    for key in ("costs", "rank0_s_per_ir", "ir_per_task_per_worker", "idle_cpu_per_worker", "cpu_per_ping"):
        if key in local:
            result[key] = local[key]
    result["costs_meta"] = local.get("meta")

    def save():
        Path(args.results).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")

    count = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the namespaces go away on a kill too (finally)
    try:
        cluster.up()
        for scenario in args.scenarios.split(","):
            rate0, rate = parse_scenario(scenario)
            cluster.shape(rate0, rate, args.delay)
            probe_gbps, rtt_ms = probe_link(cluster)
            result["scenarios"].append({"rank0_rate": rate0, "worker_rate": rate, "probe_gbps": probe_gbps,
                                        "rtt_ms": rtt_ms})
            print(f"rehearsal: links {rate0} (rank 0) / {rate} (workers): one stream carries {probe_gbps} Gbit/s, "
                  f"round trip {rtt_ms} ms", file=sys.stderr)
            for job in jobs:
                for io in ios:
                    c = costs.get((job, io))
                    for n in workers:
                        # Size the job to last about --seconds at the predicted rate (at least 3 tasks per worker,
                        # so that every worker stays busy); leave out a single image predicted to take more than 6
                        # times that (slow links).
                        tasks = len(shapes[job].tasks)
                        if c is not None and not c.single:
                            predicted = model.predict(c, n, gbps(rate0), p, gbps(rate), host_cores=os.cpu_count())
                            tasks = min(tasks, max(3 * n, int(predicted["throughput"] * args.seconds)))
                        if c is not None and c.single:
                            predicted = model.predict_one_image(c, n, gbps(rate0), p, os.cpu_count(), gbps(rate))
                            if predicted["seconds"] > 6 * args.seconds:
                                print(f"rehearsal: {scenario} {job} --io {io} {n} workers left out: the model predicts "
                                      f"{predicted['seconds']:.0f} s", file=sys.stderr)
                                continue
                        shape = shapes[job].first(tasks).with_guards(n)
                        count += 1
                        out = work / f"out{count}"
                        log = work / f"run{count}.log"
                        before = cluster.counters(0)
                        prefix = [args.cluster, "run", "-n", str(n + 1), "--"]
                        rec = scalejobs.run_job(prefix, shape, io, out, work, dict(env, **cluster.vars), log=log,
                                                cpu_dir=cpu_dir, extra_args=["--ping-timeout", "10", "--orphan-timeout", "60"])
                        rx, tx = cluster.counters(0)
                        rec.update({"workers": n, "tasks": len(shape.tasks), "guards": len(shape.guards),
                                    "rank0_rate": rate0, "worker_rate": rate, "rank0_gbps": gbps(rate0),
                                    "worker_gbps": gbps(rate), "rank0_rx_bytes": rx - before[0],
                                    "rank0_tx_bytes": tx - before[1], "rtt_ms": rtt_ms})
                        subprocess.run(["rm", "-rf", str(out)])
                        if "error" in rec:
                            print(f"rehearsal: {job} --io {io}, {n} workers failed ({rec['error']}); log {log}",
                                  file=sys.stderr)
                        else:
                            log.unlink(missing_ok=True)
                        result["runs"].append(rec)
                        save()
                        tput = rec["tasks"] / rec["wall_s"] if rec.get("wall_s") else 0
                        print(f"rehearsal: {scenario} {job} --io {io} {n} workers: {rec['tasks']} tasks in "
                              f"{rec.get('wall_s')} s ({tput:.2f}/s), rank 0 CPU {rec.get('rank0_cpu_s')} s, rank 0 "
                              f"sent {rec['rank0_tx_bytes'] / 1e6:.1f} MB, received {rec['rank0_rx_bytes'] / 1e6:.1f} MB, "
                              f"other load {rec['other_cores']} cores", file=sys.stderr)
    finally:
        cluster.down()
        save()
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "probe-server":
        return probe_server(sys.argv[2])
    if len(sys.argv) >= 2 and sys.argv[1] == "probe-client":
        return probe_client(sys.argv[2], float(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    for name in ("--bin", "--work", "--cache", "--results", "--costs", "--cluster"):
        r.add_argument(name, required=True)
    r.add_argument("--corpus")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--hosts", type=int, default=9)
    r.add_argument("--scenarios", default="100mbit/25mbit,1gbit,10gbit")
    r.add_argument("--workers", default="1,2,4,8")
    r.add_argument("--jobs", default="photos-bmp,thumbs,xlarge")
    r.add_argument("--io", default="mpi,shared")
    r.add_argument("--seconds", type=float, default=8)
    r.add_argument("--delay", default="")
    r.add_argument("--command", default="")
    r.add_argument("--revision", default="")
    args = ap.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
