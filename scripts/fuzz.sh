#!/usr/bin/env bash
# Builds dips' libFuzzer targets (tests/fuzz: fuzz_manifest, fuzz_pipeline, fuzz_wire, fuzz_codec) with
# clang 14 and ASan+UBSan in build-fuzz/ (or $DIPS_FUZZ_BUILD_DIR), then runs each for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 180   or   scripts/fuzz.sh 30 wire
#
# Installs clang-14 and libclang-rt-14-dev (and dips' dependencies) when missing, with sudo when not root.
# What each run finds is added to build-fuzz/corpus-<target> (the seeds in tests/fuzz/corpus/ are not
# touched); a crashing input is saved as build-fuzz/artifacts/<target>-crash-*. Exits 1 if any target
# crashed. Results of real runs: docs/fuzzing.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(manifest pipeline wire codec)
build=${DIPS_FUZZ_BUILD_DIR:-$root/build-fuzz}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2 ;; esac

# ---- toolchain: clang 14 with libFuzzer (libclang-rt-14-dev on Debian 12)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
libfuzzer_works() {
  local dir
  dir=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$dir/t.cpp"
  clang++-14 -fsanitize=fuzzer,address,undefined "$dir/t.cpp" -o "$dir/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$dir"
  return $rc
}
if ! command -v clang++-14 >/dev/null || ! libfuzzer_works; then
  echo "fuzz.sh: installing clang-14 and libclang-rt-14-dev" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
  libfuzzer_works || { echo "fuzz.sh: clang++-14 cannot build a libFuzzer binary" >&2; exit 1; }
fi
"$root/scripts/install-deps.sh"  # OpenCV, ZBar, fmt, cmake, pkg-config (quiet when present)

# ---- build
CC=clang-14 CXX=clang++-14 cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

# ---- run
mkdir -p "$build/artifacts" "$build/logs"
summary=()
crashed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus-$t"
  mkdir -p "$corpus"
  log="$build/logs/$t.log"
  before=$(ls "$build/artifacts" | grep -c "^$t-" || true)
  echo "fuzz.sh: fuzz_$t for ${seconds}s (log: $log)"
  set +e
  "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$t-" "$corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  units=$(ls "$corpus" | wc -l)
  after=$(ls "$build/artifacts" | grep -c "^$t-" || true)
  if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
    crashed=1
    result="CRASH (exit $rc): $(ls -t "$build/artifacts" | grep "^$t-" | head -1)"
    grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -5 | sed 's/^/    /'
  else
    result="no crash"
  fi
  summary+=("$(printf '%-14s %12s execs %8s exec/s  cov %6s  corpus %6s  %s' "fuzz_$t" "$execs" "$rate" "$cov" "$units" "$result")")
done
echo
echo "fuzz.sh: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
exit $crashed
