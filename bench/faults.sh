#!/usr/bin/env bash
# bench/faults.sh: what a lost worker costs dips, and what the liveness pings cost, measured with real
# SIGKILLs (DIPS_FAULT) on scripts/dips-run in interleaved rounds; prints median tables.
#
# Usage: bench/faults.sh [--rounds N] [--images N] [--ranks N] [--afters LIST] [--kill-rank R]
#                        [--pipeline P] [--quiet-wait S] [--rank0 LIST] [--no-one-fewer] [--keep]
#   --rounds      interleaved rounds; every configuration runs once per round (the two clean
#                 configurations twice, in the order A B ... B A), medians are taken (default 5)
#   --images      copies of the sample photo_large.jpg (2000x1500) in the job (default 80: about 5 s of
#                 dips wall time with 3 workers on 2 quiet cores; the default bench takes 7-13 minutes)
#   --ranks       total ranks, 1 coordinator + RANKS-1 workers (default 4)
#   --afters      kill moments: the worker SIGKILLs itself on the first work message it receives once the
#                 job has completed N pieces (DIPS_FAULT after:N); numbers, or mid / late / end: 1/2, 3/4,
#                 9/10 of the pieces of a clean run, counted in one untimed run first (default 3,10,20,mid,late,end)
#   --kill-rank   the worker rank killed (default 1)
#   --pipeline    (default blur=5,edge_detection; with --tile-rows 64: 24 pieces per image)
#   --quiet-wait  before each run wait up to S seconds (default 5; 0: never) for the machine to be quiet
#                 (all processes under 0.5 cores over 1 s): the machine may be shared
#   --rank0 LIST  also kill rank 0 once it has finished half the tasks + 1, under dips-run --retries 1, once per
#                 round for each --orphan-timeout value in LIST (e.g. 30,5; a run with 30 takes about 40 s;
#                 default: none)
#   --no-one-fewer  skip the reference configuration "clean-1w" (a clean run with one worker fewer)
#   --no-copies-too also run every kill moment with --tail-copies off (configuration nocopy@N): what the
#                 copies of a suspect's pieces at the job's tail buy, side by side
#   --keep        keep the job, the outputs and the binaries (default: keep only results.jsonl, logs, table)
#
# Configurations (every run: scripts/dips-run -n RANKS -- --op PIPELINE --tile-rows 64 --format png
# --quiet --output FRESH JOB, timed by dips itself: the report's summary wall_s):
#   clean      no fault, default pings (--ping-interval 0.2 --ping-timeout 1.5)
#   noping     no fault, --ping-interval 10 --ping-timeout 30 (virtually no pings)
#   ping20x    no fault, --ping-interval 0.01 (20 times the default ping rate: rank 0 checks its ping
#              schedule every 10 ms, so this is the highest rate): magnifies the ping cost, whose estimate
#              at the default rate is the difference to noping divided by 20
#   kill@N     DIPS_FAULT=rank:R,after:N,kind:kill; stderr is read by faults_table.py, which stamps each
#              line with time.monotonic() as it arrives: detection time = stamp of rank 0's "worker rank R
#              lost" line - stamp of the worker's "injects 'kill'" line
#   nocopy@N   (--no-copies-too) kill@N with --tail-copies off: the job waits for the ping timeout to hand
#              the dead worker's pieces on
#   clean-1w   no fault, one worker fewer from the start (what the rest of a job runs with after a loss)
#   rank0@T    (--rank0) DIPS_FAULT=rank:0,after:IMAGES/2+1,kind:kill, --orphan-timeout T, dips-run
#              --retries 1: time from the kill to dips-run's retry, and the tasks the retry skips
# Every run's output folder (but the report and its page) is compared byte for byte with the first clean run's
# (diff -rq: differing files, and files only in one of them, e.g. a temporary file left by a dead rank 0).
# Results: ${TMPDIR:-/tmp}/dips-faults-DATE/ (results.jsonl, one stderr log per run, table.txt).
set -euo pipefail
# shellcheck source=lib.sh disable=SC2154  # lib.sh sets here, root, py, command_line
source "$(dirname "$0")/lib.sh"
bench_init "$0" "$@"

rounds=5; images=80; ranks=4; afters="3,10,20,mid,late,end"; kill_rank=1; pipeline="blur=5,edge_detection"
quiet_wait=5; one_fewer=1; keep=0; rank0=""; nocopy=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --afters) afters=$2; shift 2 ;;
    --kill-rank) kill_rank=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --quiet-wait) quiet_wait=$2; shift 2 ;;
    --no-one-fewer) one_fewer=0; shift ;;
    --no-copies-too) nocopy=1; shift ;;
    --rank0) rank0=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) bench_help ;;
    *) bench_fail "unknown argument '$1' (see --help)" ;;
  esac
done
bench_number rounds "$rounds" 1
bench_number images "$images" 1
bench_number ranks "$ranks" 3   # a worker must survive the kill
bench_number quiet-wait "$quiet_wait"
bench_number kill-rank "$kill_rank" 1
case ",$rank0," in *,,*) [ -z "$rank0" ] || bench_fail "--rank0 takes numbers separated by commas" ;; esac
case "$rank0" in *[!0-9,]*) bench_fail "--rank0 takes numbers separated by commas" ;; esac
[ "$kill_rank" -lt "$ranks" ] || bench_fail "--kill-rank must be a worker rank (1..RANKS-1)"

lib="$py $here/faults_table.py"
bench_build dips dips-make-samples

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/dips-faults-$(date +%Y%m%d-%H%M%S).XXXX")
work=$run_dir/work; logs=$run_dir/logs; results=$run_dir/results.jsonl
mkdir -p "$work/samples" "$work/job" "$logs"
cleanup() { [ "$keep" = 1 ] || rm -rf "$work" "$run_dir/bin"; }
trap cleanup EXIT

# 0. snapshots of dips and dips-run (see bench_snapshot)
bench_snapshot "$run_dir/bin" "$root/build/dips" "$root/scripts/dips-run"
export DIPS_BIN=$run_dir/bin/dips
dips_run=$run_dir/bin/dips-run
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(cd "$root" && git status --porcelain -- src include scripts CMakeLists.txt 2>/dev/null)" ] || commit="$commit+local changes"

# 1. the job: copies of one 3 MP photo, cut in bands of 64 rows
"$root/build/dips-make-samples" "$work/samples" >/dev/null
for i in $(seq -w 1 "$images"); do cp "$work/samples/photo_large.jpg" "$work/job/p$i.jpg"; done
dips_args=(--op "$pipeline" --tile-rows 64 --format png --quiet)
# Its pieces (decode, bands, finish, encoded bands), which the kill moments count: one clean run, not timed.
env -u DIPS_FAULT "$dips_run" -n "$ranks" -- "${dips_args[@]}" --output "$work/count" "$work/job" > "$logs/count.log" 2>&1 ||
  { echo "bench/faults.sh: the run counting the job's pieces failed (log: $logs/count.log)" >&2; exit 1; }
pieces=$($lib pieces "$work/count/report.jsonl")
rm -rf "$work/count"
workers=$((ranks - 1))
job_desc="$images x photo_large.jpg (2000x1500), --op $pipeline --tile-rows 64 --format png: $pieces pieces"

# kill moments
kill_configs=(); mid_config=""
IFS=, read -r -a after_list <<< "$afters"
for a in "${after_list[@]}"; do
  case "$a" in
    mid) n=$((pieces / 2)); [ -n "$mid_config" ] || mid_config="kill@$n" ;;
    late) n=$((pieces * 3 / 4)) ;;
    end) n=$((pieces * 9 / 10)) ;;
    ''|*[!0-9]*|0) echo "bench/faults.sh: --afters takes positive numbers, mid, late or end" >&2; exit 2 ;;
    *) n=$a ;;
  esac
  kill_configs+=("kill@$n")
done
[ -n "$mid_config" ] || mid_config=${kill_configs[$((${#kill_configs[@]} / 2))]}

{
  echo "dips fault-tolerance bench: $command_line"
  echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $(uname -r), $(mpirun --version 2>/dev/null | head -1)"
  echo "dips: commit $commit, binary sha256 $(sha256sum "$DIPS_BIN" | cut -c1-12) (copied to $run_dir/bin)"
  echo "job: $job_desc"
  echo "ranks: $ranks (1 coordinator + $workers workers), killed worker: rank $kill_rank, kill moments: ${kill_configs[*]}"
  echo "results: $run_dir"
} | tee "$run_dir/header.txt" >&2

reference=""
identical=0; compared=0
run_one() {  # $1 config, $2 round, $3 pair index
  local config=$1 round=$2 pair=$3 ranks_here=$ranks env_fault="" extra=() after=0 retries=0 orphan=30
  case "$config" in
    clean) ;;
    noping) extra=(--ping-interval 10 --ping-timeout 30) ;;
    ping20x) extra=(--ping-interval 0.01) ;;
    clean-1w) ranks_here=$((ranks - 1)) ;;
    kill@*) after=${config#kill@}; env_fault="rank:$kill_rank,after:$after,kind:kill" ;;
    nocopy@*) after=${config#nocopy@}; env_fault="rank:$kill_rank,after:$after,kind:kill"; extra=(--tail-copies off) ;;
    rank0@*) after=$((images / 2 + 1)); orphan=${config#rank0@}; env_fault="rank:0,after:$after,kind:kill"; retries=1
             extra=(--orphan-timeout "$orphan") ;;
  esac
  local tag="r$round-${config/@/}-$pair" out="$work/out-r$round-${config/@/}-$pair"
  if [ "$quiet_wait" -gt 0 ]; then
    read -r waited load < <($py "$here/benchlib.py" quiet "$quiet_wait" 0.5)
  else
    waited=0; load=-1
  fi
  local record
  record=$(printf '{"config":"%s","round":%d,"pair":%d,"after":%d,"ranks":%d,"orphan_timeout":%d,"job":"%s","mid_config":"%s","quiet_waited_s":%s,"load_before":%s}' \
    "$config" "$round" "$pair" "$after" "$ranks_here" "$orphan" "$job_desc" "$mid_config" "$waited" "$load")
  printf 'faults: round %d/%d %-10s ' "$round" "$rounds" "$config" >&2
  local code=0
  if [ -n "$env_fault" ]; then
    DIPS_FAULT=$env_fault $lib run "$record" "$results" "$out/report.jsonl" "$logs/$tag.log" -- \
      "$dips_run" -n "$ranks_here" --retries "$retries" -- "${dips_args[@]}" "${extra[@]}" --output "$out" "$work/job" || code=$?
  else
    env -u DIPS_FAULT $lib run "$record" "$results" "$out/report.jsonl" "$logs/$tag.log" -- \
      "$dips_run" -n "$ranks_here" -- "${dips_args[@]}" "${extra[@]}" --output "$out" "$work/job" || code=$?
  fi
  [ "$code" = 0 ] || echo "faults: WARNING: $tag exited $code (log: $logs/$tag.log)" >&2
  cp "$out/report.jsonl" "$logs/$tag.report.jsonl" 2>/dev/null || true
  if [ -z "$reference" ] && [ "$config" = clean ] && [ "$code" = 0 ]; then
    reference=$out
  elif [ -n "$reference" ]; then
    compared=$((compared + 1))
    if diff -rq -x report.jsonl -x report.html "$reference" "$out" > "$logs/$tag.diff" 2>&1; then
      identical=$((identical + 1)); rm -f "$logs/$tag.diff"
    else
      echo "faults: WARNING: $tag output folder differs from the clean reference's: $(head -1 "$logs/$tag.diff")" \
           "($(wc -l < "$logs/$tag.diff") lines in $logs/$tag.diff)" >&2
    fi
  fi
  [ "$keep" = 1 ] || [ "$out" = "$reference" ] || rm -rf "$out"
}

start=$SECONDS
for round in $(seq 1 "$rounds"); do
  order=(clean:0 noping:0 ping20x:0)
  for c in "${kill_configs[@]}"; do
    order+=("$c:0")
    [ "$nocopy" = 0 ] || order+=("nocopy@${c#kill@}:0")
  done
  [ "$one_fewer" = 1 ] && order+=(clean-1w:0)
  if [ -n "$rank0" ]; then IFS=, read -r -a r0_list <<< "$rank0"; for t in "${r0_list[@]}"; do order+=("rank0@$t:0"); done; fi
  order+=(noping:1 clean:1)
  for item in "${order[@]}"; do run_one "${item%:*}" "$round" "${item##*:}"; done
done
echo "faults: $((SECONDS - start)) s of runs; output folders identical to the first clean run's in $identical of $compared runs" | tee "$run_dir/identical.txt" >&2

{
  cat "$run_dir/header.txt"
  echo "output folders identical to the first clean run's in $identical of $compared runs"
  echo
  $lib table "$results"
} | tee "$run_dir/table.txt"
