#!/usr/bin/env python3
"""The mutation check (tests/mutations/README.md): applies each listed mutation of src/ to a scratch copy
of the repository, rebuilds incrementally, runs the tests the mutation names, and prints whether they
caught it. The working tree is never modified.

    scripts/mutate.py                      # every mutation of tests/mutations/*.txt
    scripts/mutate.py --only scheduler.    # those whose name starts with one of these prefixes
    scripts/mutate.py --check              # only check that every pattern still matches (no build)

Exit status: 0 when every mutation is caught or listed as equivalent; 1 when one is missed, stale (its
pattern no longer matches), does not compile, or when the unmutated code already fails its tests.
"""
import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("name", "file", "find", "find+", "replace", "replace+", "tests", "equivalent")


@dataclass
class Mutation:
    name: str
    where: str  # list file and line, for messages
    file: str = ""
    find: str = ""
    replace: str = ""
    tests: list = field(default_factory=list)
    equivalent: str = ""


class ListError(Exception):
    pass


def parse_list(path: Path):
    """Blocks of 'key: value' lines; a block starts at 'name:'. Values are taken verbatim after 'key: '
    (trailing blanks dropped); 'find+:' and 'replace+:' add a line to the pattern or the replacement; '#'
    lines and blank lines are comments."""
    mutations = []
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or key not in KEYS:
            raise ListError(f"{path}:{number}: expected one of {', '.join(k + ':' for k in KEYS)}")
        value = value[1:] if value.startswith(" ") else value
        if key == "name":
            current = Mutation(name=value, where=f"{path.relative_to(ROOT)}:{number}")
            mutations.append(current)
            continue
        if current is None:
            raise ListError(f"{path}:{number}: '{key}:' before the first 'name:'")
        if key == "tests":
            current.tests = value.split()
        elif key.endswith("+"):
            setattr(current, key[:-1], getattr(current, key[:-1]) + "\n" + value)
        else:
            setattr(current, key, value)
    for m in mutations:
        missing = [k for k in ("file", "find", "tests") if not getattr(m, k)]
        if missing:
            raise ListError(f"{m.where}: mutation '{m.name}' has no {', '.join(missing)}")
        if m.find == m.replace:
            raise ListError(f"{m.where}: mutation '{m.name}' replaces its pattern by itself")
    return mutations


def load_mutations(lists):
    mutations = []
    for path in lists:
        mutations += parse_list(path)
    seen = set()
    for m in mutations:
        if m.name in seen:
            raise ListError(f"{m.where}: a second mutation named '{m.name}'")
        seen.add(m.name)
    return mutations


def match_problem(tree: Path, m: Mutation):
    """Why the mutation cannot be applied to this tree, or None: its pattern must occur exactly once."""
    path = tree / m.file
    if not path.is_file():
        return f"{m.file} does not exist"
    count = path.read_text().count(m.find)
    if count == 0:
        return f"pattern no longer in {m.file}: {m.find!r}"
    if count > 1:
        return f"pattern occurs {count} times in {m.file} (make it unique): {m.find!r}"
    return None


def is_ctest_name(entry: str) -> bool:
    return not entry.startswith("[")


def targets_for(entries):
    """The build targets the named tests need (fewer targets: shorter incremental builds)."""
    targets = set()
    for entry in entries:
        if not is_ctest_name(entry) or entry == "unit":
            targets.add("dips_tests")
        elif entry.startswith(("mpi_", "faults_", "elastic_")):
            targets.update({"dips", "dips_mpi_tests"})
        elif entry.startswith("fuzz_") and entry.endswith("_replay"):
            targets.add(entry)
        else:
            return ["all"]
    return sorted(targets)


def repo_files():
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def sync_scratch(source: Path):
    """Makes source/ a copy of the work tree (tracked and untracked files, not ignored ones), rewriting only
    the files that differ, so that the build directory stays incremental."""
    wanted = set(repo_files())
    source.mkdir(parents=True, exist_ok=True)
    for rel in wanted:
        src, dst = ROOT / rel, source / rel
        data = src.read_bytes()
        if not dst.is_file() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            shutil.copymode(src, dst)
    for path in sorted(source.rglob("*"), reverse=True):
        rel = path.relative_to(source).as_posix()
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def run(cmd, timeout=None, cwd=None):
    """Runs cmd quietly; returns (ok, seconds, output tail). A timeout counts as a failure."""
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        ok, output = proc.returncode == 0, proc.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        ok, output = False, (e.stdout or b"").decode(errors="replace") + f"\n[timed out after {timeout} s]"
    return ok, time.monotonic() - start, output[-3000:]


def kill_leftovers(scratch: Path):
    """Kills what a test under scratch left running: ctest's timeout kills the test process only, and a
    mutation that makes dips wait for ever leaves its dips-run, mpirun and ranks (in sessions of their own)
    behind, taking CPU from every later test."""
    marker = str(scratch) + "/"
    spared, pid = set(), os.getpid()  # this script and its callers (a --scratch argument names the path)
    while pid > 1 and pid not in spared:
        spared.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in spared:
            continue
        try:
            if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


class Runner:
    def __init__(self, scratch: Path, jobs: int, verbose: bool):
        self.source = scratch / "src-copy"
        self.build = scratch / "build"
        self.jobs = jobs
        self.verbose = verbose
        self.baseline = {}  # test entry -> seconds it took on the unmutated code

    def configure(self):
        generator = ["-G", "Ninja"] if shutil.which("ninja") and not (self.build / "Makefile").exists() else []
        ok, _, out = run(["cmake", "-S", str(self.source), "-B", str(self.build), "-DCMAKE_BUILD_TYPE=RelWithDebInfo"] + generator)
        if not ok:
            sys.exit(f"mutate: cmake failed:\n{out}")

    def build_targets(self, targets):
        return run(["cmake", "--build", str(self.build), "-j", str(self.jobs), "--target"] + targets)

    def test(self, entry, timeout):
        if is_ctest_name(entry):
            cmd = ["ctest", "--test-dir", str(self.build), "-R", f"^{entry}$", "--timeout", str(int(timeout)),
                   "--output-on-failure", "--no-tests=error"]
        else:  # -w NoTests: a tag that matches no test fails instead of passing
            cmd = [str(self.build / "tests" / "dips_tests"), "-w", "NoTests", entry]
        result = run(cmd, timeout=timeout + 30)
        kill_leftovers(self.build.parent)
        return result

    def timeout_for(self, entry):
        # Generous against a busy machine, short enough that a mutation that loops forever ends.
        return max(120.0, 6 * self.baseline.get(entry, 60.0))

    def run_baseline(self, mutations):
        """Runs every named test on the unmutated code. A required entry that fails stops the check; an
        optional one ('[tag]?') that fails or matches nothing is left out of every mutation, and said so."""
        entries = sorted({e for m in mutations for e in m.tests})
        ok, secs, out = self.build_targets(targets_for([e.rstrip("?") for e in entries]))
        if not ok:
            sys.exit(f"mutate: the unmutated copy does not build:\n{out}")
        print(f"baseline: built in {secs:.0f} s")
        for entry in entries:
            ok, secs, out = self.test(entry.rstrip("?"), timeout=1800)
            if ok:
                print(f"baseline: {entry} passes in {secs:.1f} s")
                self.baseline[entry] = secs
            elif entry.endswith("?"):
                print(f"baseline: {entry} fails or matches no test: optional, left out")
            else:
                sys.exit(f"mutate: the unmutated code fails {entry} (or it matches no test); fix that first:\n{out}")

    def mutate(self, m: Mutation):
        """Returns (verdict, detail): caught, missed, stale or error."""
        problem = match_problem(self.source, m)
        if problem:
            return "stale", problem
        path = self.source / m.file
        original = path.read_text()
        try:
            path.write_text(original.replace(m.find, m.replace, 1))
            entries = [e for e in m.tests if e in self.baseline]
            if not entries:
                return "error", "none of its tests passes on the unmutated code"
            ok, secs, out = self.build_targets(targets_for(entries))
            if not ok:
                errors = [line for line in out.splitlines() if "error" in line] or out.strip().splitlines()[-1:]
                return "error", "does not compile: " + (errors[0].strip() if errors else "build failed")
            for entry in entries:
                ok, secs, out = self.test(entry.rstrip("?"), self.timeout_for(entry))
                if not ok:
                    if self.verbose:
                        print(out)
                    return "caught", f"by {entry} ({secs:.1f} s)"
            return "missed", "tests pass: " + " ".join(entries)
        finally:
            path.write_text(original)


def scratch_dir(arg):
    if arg:
        return Path(arg).resolve()
    tag = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"dips-mutate-{tag}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="PREFIX", help="run the mutations whose name starts with one of these")
    parser.add_argument("--check", action="store_true", help="check the lists and that every pattern matches once; build nothing")
    parser.add_argument("--scratch", help="scratch directory (copy and build dir, kept between runs); default: $TMPDIR/dips-mutate-<hash>")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="build parallelism (default 2)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the failing test output of caught mutations")
    parser.add_argument("lists", nargs="*", type=Path, help="mutation lists (default: tests/mutations/*.txt)")
    args = parser.parse_args()

    lists = [p.resolve() for p in args.lists] or sorted((ROOT / "tests" / "mutations").glob("*.txt"))
    try:
        mutations = load_mutations(lists)
    except ListError as e:
        sys.exit(f"mutate: {e}")
    if args.only:
        mutations = [m for m in mutations if m.name.startswith(tuple(args.only))]
    if not mutations:
        sys.exit("mutate: no mutations selected")

    if args.check:
        problems = [(m, match_problem(ROOT, m)) for m in mutations]
        problems = [(m, p) for m, p in problems if p]
        for m, p in problems:
            print(f"STALE   {m.name} ({m.where}): {p}")
        print(f"{len(mutations) - len(problems)} of {len(mutations)} mutation patterns match exactly once")
        return 1 if problems else 0

    scratch = scratch_dir(args.scratch)
    print(f"mutate: {len(mutations)} mutations; scratch copy and build in {scratch}")
    runner = Runner(scratch, args.jobs, args.verbose)
    sync_scratch(runner.source)
    runner.configure()
    runner.run_baseline(mutations)

    counts = {"caught": 0, "missed": 0, "equivalent": 0, "stale": 0, "error": 0}
    start = time.monotonic()
    for m in mutations:
        verdict, detail = runner.mutate(m)
        if verdict == "missed" and m.equivalent:
            verdict, detail = "equivalent", m.equivalent
        elif verdict == "caught" and m.equivalent:
            detail += "; listed as equivalent, but it is caught: remove 'equivalent:'"
        counts[verdict] += 1
        label = {"caught": "caught", "missed": "MISSED", "equivalent": "equiv", "stale": "STALE", "error": "ERROR"}[verdict]
        print(f"{label:<7} {m.name:<44} {m.file:<22} {detail}", flush=True)
    # Leave the build directory matching the unmutated code.
    runner.build_targets(targets_for(sorted({e.rstrip("?") for m in mutations for e in m.tests})))

    total = len(mutations)
    print(f"\n{counts['caught']} of {total} mutations caught ({100.0 * counts['caught'] / total:.1f}%); "
          f"{counts['equivalent']} equivalent (listed, with why), {counts['missed']} missed, "
          f"{counts['stale']} stale, {counts['error']} do not compile; {time.monotonic() - start:.0f} s")
    return 0 if counts["missed"] == counts["stale"] == counts["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
