#!/usr/bin/env bash
# Line and branch coverage of src/ by the whole test suite (docs/developers.md). Builds with
# -DDIPS_COVERAGE=ON in its own directory (build-coverage/, or $DIPS_COVERAGE_DIR), runs every ctest entry
# (the ranks of multi-rank tests write their counters too, also those that end with _exit), and prints one
# line per src/ file with gcovr. Installs gcovr from Debian when it is missing. Arguments go to ctest
# (e.g. -j2, or -R unit for a quick look). Exits non-zero when a test failed (the table is printed anyway:
# it is then the coverage of what passed and failed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DIPS_COVERAGE_DIR:-$root/build-coverage}

"$root/scripts/install-deps.sh"
if ! command -v gcovr >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "coverage: installing gcovr" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcovr >/dev/null
fi

# -O0: every line of the source is a line of the program, so that "not run" means not run.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DDIPS_COVERAGE=ON >/dev/null
cmake --build "$build" -j"${DIPS_JOBS:-2}"
find "$build" -name '*.gcda' -delete

tests_ok=0
(cd "$build" && ctest --output-on-failure --timeout 900 "$@") || tests_ok=$?

# Exceptions and unreachable code make branches that no test could take: they are left out of the count.
# A line gcov gives a count gcovr cannot read is skipped with a WARNING rather than losing the whole table.
gcovr --root "$root" --object-directory "$build" --filter "$root/src/" \
  --exclude-throw-branches --exclude-unreachable-branches --gcov-ignore-parse-errors \
  --json-summary "$build/coverage-summary.json" --json-summary-pretty >/dev/null
python3 - "$build/coverage-summary.json" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
def pct(covered, total):  # "-" for a file without branches
    return f"{100.0 * covered / total:5.1f}%" if total else "    -"
print(f"{'file':<26}{'lines':>13}{'line %':>9}{'branches':>15}{'branch %':>10}")
for f in sorted(summary["files"], key=lambda f: f["filename"]):
    print(f"{f['filename']:<26}{f['line_covered']:>6}/{f['line_total']:<6}{pct(f['line_covered'], f['line_total']):>9}"
          f"{f['branch_covered']:>7}/{f['branch_total']:<7}{pct(f['branch_covered'], f['branch_total']):>10}")
s = summary
print(f"{'total':<26}{s['line_covered']:>6}/{s['line_total']:<6}{pct(s['line_covered'], s['line_total']):>9}"
      f"{s['branch_covered']:>7}/{s['branch_total']:<7}{pct(s['branch_covered'], s['branch_total']):>10}")
EOF
echo "coverage: per-line detail: gcovr --root $root --object-directory $build --filter $root/src/ --html-details out.html"
if [ "$tests_ok" != 0 ]; then
  echo "coverage: some tests failed (ctest exit $tests_ok)" >&2
  exit 1
fi
