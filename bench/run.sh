#!/usr/bin/env bash
# bench/run.sh: dips (1 coordinator + 2 workers under mpirun) against the plain single-process OpenCV loop
# (build/dips-reference --loop) on real photos, per operation, in interleaved rounds; prints median tables.
#
# Usage: bench/run.sh [--ops OP,OP,...] [--set small|medium|large] [--rounds N] [--limit N]
#                     [--split interleave|contiguous] [--no-dips-off] [--quiet-wait S] [--keep]
#   --ops      operations (pipelines) to time, comma-separated
#              (default grayscale,blur,edge_detection,equalize_histogram,read_qr_code,find_contours)
#   --set      corpus subset (default medium: 31 photos of 1.3-4.1 MP, JPEG and PNG)
#   --rounds   interleaved rounds; every configuration runs once per round, medians are taken (default 3)
#   --limit    use only the first N files of the set (sorted by name; default: all)
#   --split    how the 2-process plain loop divides the files: interleave (file i to process i % 2, the
#              default: similar megapixels per process) or contiguous (first half / second half)
#   --no-dips-off  skip the dips variant with malloc huge pages off
#   --quiet-wait  before each operation of each round, wait up to S seconds (default 60; 0: never) for the
#              machine to be quiet (other processes under 0.3 cores over 1 s): the machine is shared
#   --keep     keep the outputs and logs (bench/.work/RUN) instead of deleting them at the end
# Environment: BENCH_CORPUS (default bench/.corpus; built with /work/shared/corpus/build.sh when missing).
#
# Configurations, each timed from outside with a monotonic clock:
#   dips           scripts/dips-run -n 3 -- --op OP --output FRESH --quiet INPUTS  (dips-run's default
#                  GLIBC_TUNABLES=glibc.malloc.hugetlb=1); the outside wall includes mpirun's launch and teardown
#   dips_off       the same with GLIBC_TUNABLES=glibc.malloc.hugetlb=0 (note: an EMPTY GLIBC_TUNABLES does not turn
#                  huge pages off: dips-run replaces an empty value with its default)
#   plain1         build/dips-reference --loop OP FRESH FILES...              (GLIBC_TUNABLES unset)
#   plain2         two such loops in parallel, one per half of the files       (wall: until both end)
#   plain1_huge, plain2_huge   the same with GLIBC_TUNABLES=glibc.malloc.hugetlb=1
#   dips_1img      (probe, twice per round) dips on the smallest image alone: the fixed cost of a dips run
#                  (mpirun launch + teardown) and rank 0's start-up CPU, which rank0_cpu_s includes
# Per run it also records the CPU time of all the measured processes and the CPU other processes used
# meanwhile ("other load", from /proc/stat): on a shared machine, runs with other load are suspect.
# Ratios in the tables are throughput ratios, plain wall / dips wall: above 1, dips is faster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
command_line="bench/run.sh${*:+ $*}"

ops="grayscale,blur,edge_detection,equalize_histogram,read_qr_code,find_contours"
set_name=medium; rounds=3; limit=0; split=interleave; dips_off=1; keep=0; quiet_wait=60
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops=$2; shift 2 ;;
    --set) set_name=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --split) split=$2; shift 2 ;;
    --no-dips-off) dips_off=0; shift ;;
    --quiet-wait) quiet_wait=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$set_name" in small|medium|large) ;; *) echo "bench/run.sh: --set must be small, medium or large" >&2; exit 2 ;; esac
case "$rounds" in ''|*[!0-9]*|0) echo "bench/run.sh: --rounds needs a positive number" >&2; exit 2 ;; esac
case "$quiet_wait" in ''|*[!0-9]*) echo "bench/run.sh: --quiet-wait needs a number of seconds" >&2; exit 2 ;; esac
case "$limit" in ''|*[!0-9]*) echo "bench/run.sh: --limit needs a number" >&2; exit 2 ;; esac
case "$split" in interleave|contiguous) ;; *) echo "bench/run.sh: --split must be interleave or contiguous" >&2; exit 2 ;; esac

lib="python3 $here/benchlib.py"
corpus=${BENCH_CORPUS:-$here/.corpus}

# 1. corpus and binaries
if [ ! -s "$corpus/MANIFEST.sha256" ]; then
  echo "bench: building the photo corpus into $corpus (about 3 minutes, needs root or sudo for apt)..." >&2
  bash /work/shared/corpus/build.sh "$corpus" >&2
fi
if [ ! -x "$root/build/dips" ] || [ ! -x "$root/build/dips-reference" ]; then
  echo "bench: building dips (scripts/build.sh)..." >&2
  (cd "$root" && scripts/build.sh) >&2
fi

mapfile -t files < <(find "$corpus/$set_name" -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || { echo "bench: no images in $corpus/$set_name" >&2; exit 2; }
all_files=${#files[@]}
if [ "$limit" -gt 0 ] && [ "$limit" -lt ${#files[@]} ]; then files=("${files[@]:0:$limit}"); fi
# dips gets the folder itself when the whole set is used (as a user would run it), else the files
if [ ${#files[@]} -eq "$all_files" ]; then dips_inputs=("$corpus/$set_name"); else dips_inputs=("${files[@]}"); fi
read -r n_images megapixels < <($lib sizes "${files[@]}")
mapfile -t halves < <($lib split 2 "$split" "${files[@]}")
IFS=$'\t' read -r -a half1 <<< "${halves[0]}"
IFS=$'\t' read -r -a half2 <<< "${halves[1]}"
read -r calib_mp calib_file < <($lib smallest "${files[@]}")
read -r _ mp1 < <($lib sizes "${half1[@]}")
read -r _ mp2 < <($lib sizes "${half2[@]}")

IFS=, read -r -a op_list <<< "$ops"
run_id=$(date +%Y%m%d-%H%M%S)
work="$here/.work/$run_id"
results_dir="$here/.results"
mkdir -p "$work/bin" "$results_dir"
results="$results_dir/$run_id.jsonl"
# Snapshot the binaries: build/ may be rebuilt by someone else while the benchmark runs.
cp "$root/build/dips" "$root/build/dips-reference" "$work/bin/"
export DIPS_BIN="$work/bin/dips"   # read by scripts/dips-run
dips_run="$root/scripts/dips-run"
reference="$work/bin/dips-reference"
inherited_tunables=${GLIBC_TUNABLES-<unset>}
unset GLIBC_TUNABLES   # every configuration below sets (or leaves unset) its own

configs=(dips plain1 plain1_huge plain2 plain2_huge)
[ "$dips_off" = 1 ] && configs=(dips dips_off plain1 plain1_huge plain2 plain2_huge)
declare -A label=(
  [dips]="dips -n 3 (dips-run: hugetlb=1)"
  [dips_off]="dips -n 3, hugetlb=0"
  [plain1]="plain loop, 1 process"
  [plain1_huge]="plain loop, 1 process, hugetlb=1"
  [plain2]="plain loop, 2 processes"
  [plain2_huge]="plain loop, 2 processes, hugetlb=1"
)
config_json=$(for c in "${configs[@]}"; do printf '["%s","%s"]\n' "$c" "${label[$c]}"; done | paste -sd, -)
ops_json=$(printf '"%s"\n' "${op_list[@]}" | paste -sd, -)

{
  echo "# dips benchmark"
  echo "command:  $command_line"
  echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "nproc:    $(nproc)   ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GiB, load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "kernel:   $(uname -r); glibc $(ldd --version | head -1 | awk '{print $NF}'); THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?'); $(mpirun --version 2>/dev/null | head -1)"
  echo "dips:     $("$DIPS_BIN" --version) (sha256 $(sha256sum "$DIPS_BIN" | cut -c1-12), dips-reference $(sha256sum "$reference" | cut -c1-12)) at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
  echo "corpus:   $corpus/$set_name: $n_images images, $megapixels MP$( [ "$n_images" -lt "$all_files" ] && echo " (first $n_images of $all_files, --limit)")"
  echo "split:    2-process plain loop, $split: ${#half1[@]} files / $mp1 MP and ${#half2[@]} files / $mp2 MP"
  echo "rounds:   $rounds, interleaved (each round runs every operation and configuration once; the order rotates)"
  echo "fixed-cost probe: dips on 1 image ($(basename "$calib_file"), $calib_mp MP), twice per round"
  echo "GLIBC_TUNABLES inherited: $inherited_tunables (unset for the runs; each configuration sets its own)"
} | tee "$work/header.txt"

printf '{"kind":"meta","configs":[%s],"ops":[%s],"images":%s,"megapixels":%s,"set":"%s","rounds":%s,"calib_mp":%s}\n' \
  "$config_json" "$ops_json" "$n_images" "$megapixels" "$set_name" "$rounds" "$calib_mp" > "$results"

# One timed run: $1 round, $2 op, $3 config, $4 output folder (fresh)
run_config() {
  local round=$1 op=$2 config=$3 out=$4 log="$4.log"
  local record
  record=$(printf '{"round":%s,"op":"%s","config":"%s","log":"%s"}' "$round" "$op" "$config" "$log")
  mkdir -p "$out"
  case "$config" in
    dips)
      rmdir "$out"   # dips creates it; fresh per run
      $lib time "$record" "$results" --unset GLIBC_TUNABLES --dips-report "$out/report.jsonl" -- \
        "$dips_run" -n 3 -- --op "$op" --output "$out" --quiet "${dips_inputs[@]}" ;;
    dips_1img)   # the fixed cost of a dips run: one small image
      rmdir "$out"
      $lib time "$record" "$results" --unset GLIBC_TUNABLES --dips-report "$out/report.jsonl" -- \
        "$dips_run" -n 3 -- --op "$op" --output "$out" --quiet "$calib_file" ;;
    dips_off)
      rmdir "$out"
      $lib time "$record" "$results" --env GLIBC_TUNABLES=glibc.malloc.hugetlb=0 --dips-report "$out/report.jsonl" -- \
        "$dips_run" -n 3 -- --op "$op" --output "$out" --quiet "${dips_inputs[@]}" ;;
    plain1)
      $lib time "$record" "$results" --unset GLIBC_TUNABLES -- "$reference" --loop "$op" "$out" "${files[@]}" ;;
    plain1_huge)
      $lib time "$record" "$results" --env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 -- "$reference" --loop "$op" "$out" "${files[@]}" ;;
    plain2)
      $lib time "$record" "$results" --unset GLIBC_TUNABLES -- \
        "$reference" --loop "$op" "$out" "${half1[@]}" ::: "$reference" --loop "$op" "$out" "${half2[@]}" ;;
    plain2_huge)
      $lib time "$record" "$results" --env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 -- \
        "$reference" --loop "$op" "$out" "${half1[@]}" ::: "$reference" --loop "$op" "$out" "${half2[@]}" ;;
  esac
}

# Round 1 keeps the dips and plain1 outputs of every operation for a byte-for-byte comparison.
compare_outputs() {  # $1 op, $2 dips output folder, $3 plain output folder
  local op=$1 a=$2 b=$3 same=0 total=0 differ=() f name
  for f in "${files[@]}"; do
    name=$(basename "$f")
    total=$((total + 1))
    if [ -f "$a/$name" ] && [ -f "$b/$name" ] && cmp -s "$a/$name" "$b/$name"; then same=$((same + 1)); else differ+=("\"$name\""); fi
  done
  printf '{"kind":"check","op":"%s","same":%s,"total":%s,"differ":[%s]}\n' "$op" "$same" "$total" "$(IFS=,; echo "${differ[*]}")" >> "$results"
}

start=$SECONDS
failed=0
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  for k in 1 2; do
    run_config "$round" grayscale dips_1img "$work/r$round-calib$k" || { failed=$((failed + 1)); echo "bench: calibration run failed; log: $work/r$round-calib$k.log" >&2; }
  done
  [ "$keep" = 1 ] || rm -rf "$work"/r"$round"-calib*/
  for op in "${op_list[@]}"; do
    if [ "$quiet_wait" -gt 0 ]; then
      read -r waited load < <($lib quiet "$quiet_wait" 0.3)
      if [ "$waited" -gt 1 ]; then echo "  (waited ${waited}s for a quiet machine; other load now $load cores)" >&2; fi
    fi
    n=${#configs[@]}
    line="  $op:"
    for k in $(seq 0 $((n - 1))); do
      config=${configs[$(( (k + round - 1 + ${#op}) % n ))]}   # rotate the order between rounds and operations
      out="$work/r$round-$op-$config"
      if run_config "$round" "$op" "$config" "$out"; then
        line="$line $config $(tail -1 "$results" | python3 -c 'import json,sys; print("%.2fs" % json.load(sys.stdin)["wall_s"])')"
      else
        line="$line $config FAILED"
        failed=$((failed + 1))
        echo "bench: round $round $op $config failed; log: $out.log" >&2
      fi
    done
    echo "$line   [${SECONDS}s elapsed]" >&2
    if [ "$round" = 1 ]; then
      compare_outputs "$op" "$work/r1-$op-dips" "$work/r1-$op-plain1"
    fi
    # keep disk use small: drop this round's outputs (the round-1 ones stay until the comparison is done)
    [ "$keep" = 1 ] || rm -rf "$work"/r"$round"-"$op"-*/
  done
done

{
  $lib table "$results"
  echo
  echo "total benchmark time: $((SECONDS - start)) s; raw results: ${results#$root/}"
} | tee "$work/table.txt"
cp "$work/header.txt" "$results_dir/$run_id.header.txt"
cp "$work/table.txt" "$results_dir/$run_id.table.txt"
[ "$keep" = 1 ] || rm -rf "$work"
[ "$failed" = 0 ] || { echo "bench: $failed run(s) failed" >&2; exit 1; }
