#!/usr/bin/env bash
# bench/run.sh: measures the targets T1-T7 of issue 8, dips against the plain OpenCV loops on real photos, in
# interleaved rounds, and prints one table per target with the verdict (docs/benchmarks.md explains them).
#
# Usage: bench/run.sh [--targets T1,T2,...] [--rounds N] [--quick] [--dips-args 'ARGS'] [--ops OP,...]
#                     [--quiet-wait S] [--priority N] [--launch world|spawned] [--keep]
#   --targets     the targets to measure (default all: T1,T2,T3,T4,T5,T6,T7; T5 needs the dips runs of T1-T3
#                 and runs them if T1-T3 are not chosen; T7 runs dips -n 3 on thumbs/ too)
#   --rounds      interleaved rounds: each runs every job and configuration once, in a rotating order; the
#                 tables give medians (default 3; 1 with --quick)
#   --quick       every target on small stand-ins (2 large photos, 6 medium tasks, 300 thumbnails, a 8-10 MP
#                 image for T4, 200 vs 1,000 tasks for T6) in about a minute: checks the script end to end;
#                 its numbers say nothing about the targets
#   --dips-args   extra dips arguments for every dips run, e.g. --dips-args '--queue-depth 4'
#   --ops         only these operations of T1/T2/T3 (default: blur=5,edge_detection,color_inversion,grayscale,
#                 read_qr_code for T1 and T2; grayscale,blur=5 for T3)
#   --quiet-wait  before each job wait up to S seconds for the machine to be quiet (other processes under
#                 0.3 cores over 1 s; default 60, 0 with --quick; 0: never wait)
#   --priority    run every measured process (dips and the plain loops alike) in a session whose autogroup has
#                 nice value N (-20..19; below 0 needs root): on a machine shared with other sessions, e.g. -20
#                 gives the runs the cores (Linux shares the CPU between sessions whatever the processes' own
#                 nice values, so `nice bench/run.sh` does not help)
#   --launch      dips-run's launch shape for every dips run (default: dips-run's own, world on one machine);
#                 spawned: rank 0 starts the workers (MPI_Comm_spawn), to compare start-up and throughput
#   --keep        keep the outputs and the logs of every run ($BENCH_WORK/RUN_ID)
# Environment: BENCH_CORPUS (default bench/.corpus, built with bench/make-corpus.sh when missing: ~4 minutes,
# root or sudo for apt-get); BENCH_WORK, where the runs write their outputs (default bench/.work): a tmpfs
# such as /dev/shm takes the disk's own noise out of both sides (ext4 slows down creating files after many
# have been deleted, which every run on 20,000 thumbnails does).
# Every configuration runs with GLIBC_TUNABLES=glibc.malloc.hugetlb=1; dips as scripts/dips-run -n 3 (T7:
# -n 17); the plain loop is build/dips-reference --loop (imread -> operation -> imwrite, cv::setNumThreads(1)),
# as 1 process and as 2 processes over the two halves of the task list.
# Output: the tables on stdout and in bench/.results/RUN_ID.table.txt; one JSON line per run in
# bench/.results/RUN_ID.jsonl (bench/targets.py table FILE prints the tables again); progress on stderr.
set -euo pipefail
# shellcheck source=lib.sh disable=SC2154  # lib.sh sets here, root, py, command_line
source "$(dirname "$0")/lib.sh"
bench_init "$0" "$@"

targets="T1,T2,T3,T4,T5,T6,T7"; rounds=""; quick=0; dips_args=""; ops=""; quiet_wait=""; keep=0; priority=; launch=
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) targets=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --dips-args) dips_args=$2; shift 2 ;;
    --ops) ops=$2; shift 2 ;;
    --quiet-wait) quiet_wait=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --priority) priority=$2; shift 2 ;;
    --launch) launch=$2; shift 2 ;;
    -h|--help) bench_help ;;
    *) bench_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$rounds" ] || rounds=$([ "$quick" = 1 ] && echo 1 || echo 3)
[ -n "$quiet_wait" ] || quiet_wait=$([ "$quick" = 1 ] && echo 0 || echo 60)
bench_number rounds "$rounds" 1
bench_number quiet-wait "$quiet_wait"
IFS=, read -r -a target_list <<< "$targets"
[ ${#target_list[@]} -gt 0 ] || bench_fail "--targets takes T1..T7 separated by commas"
for t in "${target_list[@]}"; do
  case "$t" in T[1-7]) ;; *) bench_fail "--targets takes T1..T7 separated by commas (not '$t')" ;; esac
done

corpus=${BENCH_CORPUS:-$here/.corpus}
bench_corpus "$corpus"
bench_packages python3-opencv   # the pixel comparison of dips' outputs with the plain loop's
bench_build dips dips-reference dips-mpi-floor

bench_run_dirs
bench_snapshot "$work/bin" "$root/build/dips" "$root/build/dips-reference" "$root/build/dips-mpi-floor" "$root/scripts/dips-run"
revision=$(bench_revision)

logs=$results/$run_id.logs   # the logs of failed runs (all of them with --keep)
args=(--corpus "$corpus" --bin "$work/bin" --work "$work" --results "$results/$run_id.jsonl" --logs "$logs"
      --targets "$targets" --rounds "$rounds" --quiet-wait "$quiet_wait" --dips-args "$dips_args" --ops "$ops"
      --command "$command_line" --revision "$revision")
[ "$quick" = 1 ] && args+=(--quick)
[ "$keep" = 1 ] && args+=(--keep)
[ -n "$priority" ] && args+=(--priority "$priority")
[ -n "$launch" ] && args+=(--launch "$launch")
code=0
"$py" "$here/targets.py" run "${args[@]}" || code=$?
cp "$work/header.txt" "$results/$run_id.header.txt" 2>/dev/null || true
cp "$work/table.txt" "$results/$run_id.table.txt" 2>/dev/null || true
if [ -d "$logs" ] && ! rmdir "$logs" 2>/dev/null; then
  echo "bench: logs of $([ "$keep" = 1 ] && echo 'all runs (--keep)' || echo 'failed runs'): $logs" >&2
fi
if [ "$keep" = 1 ]; then echo "bench: outputs kept in $work" >&2; else rm -rf "$work"; fi
exit "$code"
