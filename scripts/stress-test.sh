#!/usr/bin/env bash
# stress-test.sh: runs the whole test suite several times in a row under `ctest -j2` while busy loops keep
# every core busy, and says which runs passed and which tests failed. The suite must hold on a loaded
# machine (CI shares one): a test that passes only when the machine is quiet is a timing bug.
#
# Usage: scripts/stress-test.sh [-n RUNS] [-j JOBS] [--hogs N] [-- CTEST_ARGS...]
#   -n RUNS    how many runs of the suite (default 5)
#   -j JOBS    ctest's parallel jobs (default 2)
#   --hogs N   busy loops kept running meanwhile (default: one per core; 0: none)
# Builds first (scripts/build.sh, into $DIPS_BUILD_DIR or build/). Logs go to BUILD/stress/run-K.log.
# Exit status: 0 when every run passed, 1 otherwise.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DIPS_BUILD_DIR:-$root/build}
runs=5; jobs=2; hogs=$(nproc); ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --hogs) hogs=$2; shift 2 ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "stress-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$runs" "$jobs" "$hogs"; do
  case "$value" in ''|*[!0-9]*) echo "stress-test: -n, -j and --hogs take whole numbers" >&2; exit 2 ;; esac
done

"$root/scripts/build.sh" || { echo "stress-test: the build failed" >&2; exit 1; }

# The hogs: plain busy loops (no dependency), each in its own process, ended by their ids on exit.
hog_pids=()
stop_hogs() { [ ${#hog_pids[@]} -gt 0 ] && kill "${hog_pids[@]}" 2>/dev/null; wait "${hog_pids[@]}" 2>/dev/null; hog_pids=(); }
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$hogs"); do
  ( while :; do :; done ) &
  hog_pids+=($!)
done
echo "stress-test: $hogs busy loop(s) running; $runs run(s) of ctest -j$jobs; load: $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$build/stress"
passed=0
for run in $(seq "$runs"); do
  log="$build/stress/run-$run.log"
  start=$(date +%s)
  (cd "$build" && ctest -j"$jobs" --output-on-failure --timeout 900 "${ctest_args[@]}") > "$log" 2>&1
  code=$?
  seconds=$(( $(date +%s) - start ))
  if [ $code = 0 ]; then
    passed=$((passed + 1))
    echo "run $run: PASS in ${seconds}s ($(grep -o '[0-9]*% tests passed.*' "$log" | head -1 || true))"
  else
    failed=$(sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' | sed 's/^ *//' | tr '\n' ';')
    echo "run $run: FAIL in ${seconds}s: ${failed:-ctest exit $code} (log: $log)"
  fi
done
echo "stress-test: $passed of $runs runs passed; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$passed" = "$runs" ]
