#!/usr/bin/env bash
# bench/rehearsal.sh (root): checks the scaling model (docs/scaling.md) on a rehearsal cluster: network namespace
# hosts (scripts/netns-cluster.sh) whose links are shaped with tc, dips across them in both data paths, and the
# model's curves for the same conditions with the measured points on them.
#
# Usage: bench/rehearsal.sh [--quick] [--hosts N] [--scenarios LIST] [--workers LIST] [--jobs LIST] [--io LIST]
#                           [--seconds S] [--delay D] [--costs FILE] [--keep]
#   --quick      generated stand-ins, scenario 100mbit/25mbit only, 2 and 8 workers: about 5 minutes; checks
#                the script, says little about dips
#   --hosts      namespace hosts (default 9: rank 0 and up to 8 workers, one rank per host)
#   --scenarios  links, comma-separated: RATE0/RATE (rank 0's link / each worker's) or RATE (all alike), as tc
#                writes rates (default 100mbit/25mbit,1gbit,10gbit). This 2-core machine carries about 0.6-2
#                Gbit/s of TCP between namespaces, depending on its load: faster links measure its CPU
#   --workers    worker counts (default 1,2,4,8)
#   --jobs       photos-bmp (1-4 MP photos as BMP, color_inversion: the data path, not the codecs, costs),
#                thumbs (64x64 PNG, grayscale), xlarge (one 50 MP JPEG in bands, grayscale); default all three
#   --io         mpi (bytes through rank 0), shared (names only: the namespaces share this file system);
#                default mpi,shared
#   --seconds    each run is sized from the model's prediction to last about this long (default 8)
#   --delay      added to each direction of every link (netem; this machine's kernel has none: default none)
#   --costs      per-task costs to predict from (bench/costs.sh's JSON); default: measured first, on this
#                machine, for the same jobs (bench/costs.py with callgrind, about 15 minutes; 3 without it
#                with --quick)
#   --keep       keep the work folder (bench/.work/rehearsal-RUN_ID)
# Takes 20-40 minutes with the defaults (72 runs); not part of ctest. Environment: BENCH_CORPUS (bench/.corpus).
# Output: bench/.results/rehearsal-RUN_ID.json (every run: walls, rank 0's CPU and bytes on its link, the
# workers' CPU, the machine's other load), and rehearsal-RUN_ID-model/ (bench/model.py: rehearsal-*.png with
# the points on the model's curves, table.md with measured/model for every point, > 25% flagged).
set -euo pipefail
# shellcheck source=lib.sh disable=SC2154  # lib.sh sets here, root, py, command_line
source "$(dirname "$0")/lib.sh"
bench_init "$0" "$@"

quick=0; hosts=9; scenarios=""; workers=""; jobs="photos-bmp,thumbs,xlarge"; io="mpi,shared"; seconds=8; delay=""
costs=""; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --hosts) hosts=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --io) io=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --costs) costs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) bench_help ;;
    *) bench_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "rehearsal: needs root (network namespaces, tc); skipped" >&2; exit 77; }
bench_number hosts "$hosts" 2
bench_number seconds "$seconds" 1
[ -n "$scenarios" ] || scenarios=$([ "$quick" = 1 ] && echo "100mbit/25mbit" || echo "100mbit/25mbit,1gbit,10gbit")
[ -n "$workers" ] || workers=$([ "$quick" = 1 ] && echo "2,8" || echo "1,2,4,8")
if ! probe=$(ip netns add dipsr-probe 2>&1 && ip netns exec dipsr-probe true 2>&1); then
  ip netns del dipsr-probe 2>/dev/null || true
  echo "rehearsal: cannot make or enter network namespaces here ($probe); skipped" >&2; exit 77
fi
ip netns del dipsr-probe

bench_packages python3-matplotlib python3-numpy iproute2 valgrind
[ "$quick" = 1 ] && bench_packages python3-opencv
corpus=${BENCH_CORPUS:-$here/.corpus}
[ "$quick" = 1 ] || bench_corpus "$corpus"
bench_build dips

bench_run_dirs rehearsal-
bench_snapshot "$work/bin" "$root/build/dips" "$root/scripts/dips-run" "$root/scripts/netns-cluster.sh"
revision=$(bench_revision)
source_args=(--corpus "$corpus"); [ "$quick" = 1 ] && source_args=(--quick)
callgrind=(--callgrind); [ "$quick" = 1 ] && callgrind=()   # rank 0's instructions per task: repeatable

if [ -z "$costs" ]; then
  costs=$results/$run_id.costs.json
  echo "rehearsal: measuring the jobs' per-task costs on this machine first (rank 0 + 2 workers, TCP loopback)" >&2
  DIPS_BIN="$work/bin/dips" "$py" "$here/costs.py" run --bin "$work/bin" --work "$work/costs" \
    --cache "$here/.work/scaling-inputs" --results "$costs" --shapes "$jobs" --io "$io" --sweep "" \
    --command "$command_line (local costs)" --revision "$revision" "${source_args[@]}" "${callgrind[@]}" >&2
fi

code=0
DIPS_BIN="$work/bin/dips" "$py" "$here/rehearsal.py" run --bin "$work/bin" --work "$work" \
  --cache "$here/.work/scaling-inputs" --results "$results/$run_id.json" --costs "$costs" \
  --cluster "$work/bin/netns-cluster.sh" --hosts "$hosts" --scenarios "$scenarios" --workers "$workers" \
  --jobs "$jobs" --io "$io" --seconds "$seconds" --delay "$delay" --command "$command_line" \
  --revision "$revision" "${source_args[@]}" || code=$?
if [ -s "$results/$run_id.json" ]; then
  "$py" "$here/model.py" --costs "$costs" --rehearsal "$results/$run_id.json" --out "$results/$run_id-model" --json |
    sed -n '/^## Rehearsal/,$p' || code=$?
  echo "rehearsal: results $results/$run_id.json; plots and tables in $results/$run_id-model/" >&2
fi
if [ "$keep" = 1 ]; then echo "rehearsal: work folder kept: $work" >&2; else rm -rf "$work"; fi
exit "$code"
