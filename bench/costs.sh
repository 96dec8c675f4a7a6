#!/usr/bin/env bash
# bench/costs.sh: per-piece costs of dips for each job shape and data path (issue 13), then the scaling model
# evaluated on them (docs/scaling.md explains both).
#
# Usage: bench/costs.sh [--quick] [--shapes LIST] [--io LIST] [--rounds N] [--callgrind|--no-callgrind]
#                       [--sweep LIST] [--btl tcp|vader] [--quiet-wait S] [--keep]
#   --quick        generated stand-ins (400 thumbnails, 6 photos of 3 MP, 2 of 12 MP, one of 24 MP), no
#                  callgrind: about 2 minutes; checks the script, its numbers do not describe dips
#   --shapes       thumbs, photos (1-4 MP), large (8-20 MP), xlarge (one 50 MP image), photos-bmp (1-4 MP as
#                  BMP); default thumbs,photos,large,xlarge
#   --io           data paths: shared (workers read and write the files; rank 0 sends names), mpi (rank 0
#                  reads and writes them; the bytes travel through it); default shared,mpi
#   --rounds       runs per shape and data path; the table gives medians (default 1)
#   --callgrind    also count rank 0's instructions per task under valgrind's callgrind (repeatable on a busy
#                  machine, unlike CPU seconds), and per task as the workers grow (--sweep); default on,
#                  except with --quick. Adds about 15 minutes
#   --sweep        worker counts for the callgrind sweep and for rank 0's idle CPU (default 2,8,32)
#   --btl          tcp (default: TCP over loopback, so rank 0 pays the kernel's TCP path as on a cluster) or
#                  vader (shared memory)
#   --quiet-wait   before each run wait up to S s for the machine to be quiet (default 20; 0 with --quick)
#   --keep         keep the work folder (bench/.work/costs-RUN_ID)
# Environment: BENCH_CORPUS (default bench/.corpus; built by bench/make-corpus.sh when missing, ~4 minutes).
# Output: the table on stdout; bench/.results/costs-RUN_ID.json (every run and the derived costs: the
# model's input), costs-RUN_ID.txt (the table), costs-RUN_ID-model/ (bench/model.py's plots and table).
# Every number depends on the machine's load: the table says how busy it was.
set -euo pipefail
# shellcheck source=lib.sh disable=SC2154  # lib.sh sets here, root, py, command_line
source "$(dirname "$0")/lib.sh"
bench_init "$0" "$@"

quick=0; shapes="thumbs,photos,large,xlarge"; io="shared,mpi"; rounds=1; callgrind=""; sweep="2,8,32"; btl=tcp
quiet_wait=""; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --shapes) shapes=$2; shift 2 ;;
    --io) io=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    --no-callgrind) callgrind=0; shift ;;
    --sweep) sweep=$2; shift 2 ;;
    --btl) btl=$2; shift 2 ;;
    --quiet-wait) quiet_wait=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) bench_help ;;
    *) bench_fail "unknown argument '$1' (see --help)" ;;
  esac
done
bench_number rounds "$rounds" 1
[ -n "$callgrind" ] || callgrind=$([ "$quick" = 1 ] && echo 0 || echo 1)
[ -n "$quiet_wait" ] || quiet_wait=$([ "$quick" = 1 ] && echo 0 || echo 20)
bench_number quiet-wait "$quiet_wait"
case "$btl" in tcp|vader) ;; *) bench_fail "--btl takes tcp or vader" ;; esac

packages=(python3-matplotlib python3-numpy)
[ "$quick" = 1 ] && packages+=(python3-opencv)   # the generated stand-ins
[ "$callgrind" = 1 ] && packages+=(valgrind)
bench_packages "${packages[@]}"
corpus=${BENCH_CORPUS:-$here/.corpus}
[ "$quick" = 1 ] || bench_corpus "$corpus"
bench_build dips

bench_run_dirs costs-
bench_snapshot "$work/bin" "$root/build/dips" "$root/scripts/dips-run"
revision=$(bench_revision)

args=(run --bin "$work/bin" --work "$work" --cache "$here/.work/scaling-inputs" --results "$results/$run_id.json"
      --shapes "$shapes" --io "$io" --rounds "$rounds" --sweep "$sweep" --btl "$btl" --quiet-wait "$quiet_wait"
      --command "$command_line" --revision "$revision")
if [ "$quick" = 1 ]; then args+=(--quick); else args+=(--corpus "$corpus"); fi
[ "$callgrind" = 1 ] && args+=(--callgrind)
code=0
DIPS_BIN="$work/bin/dips" "$py" "$here/costs.py" "${args[@]}" | tee "$results/$run_id.txt" || code=$?
if [ -s "$results/$run_id.json" ]; then
  echo
  "$py" "$here/model.py" --costs "$results/$run_id.json" --out "$results/$run_id-model" --json || code=$?
  echo "costs: results $results/$run_id.json; model plots in $results/$run_id-model/" >&2
fi
if [ "$keep" = 1 ]; then echo "costs: work folder kept: $work" >&2; else rm -rf "$work"; fi
exit "$code"
