#!/usr/bin/env bash
# Multi-host test over real TCP: 4 hosts as network namespaces (scripts/netns-cluster.sh). A worker is
# killed on one host; another host's link is cut mid-job. Both jobs must complete, exact, and dips-run
# must exit 0. Skips (exit 77) where it cannot make namespaces (not root).
# Usage: netns_test.sh BUILD_DIR
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")/.." && pwd)
cluster="$here/scripts/netns-cluster.sh"
if [ "$(id -u)" != 0 ]; then echo "SKIP: not root: network namespaces need root"; exit 77; fi
# Names of this run's own: namespaces are machine-wide, and on a shared machine (CI, several checkouts)
# another run of this test tearing down "its" cluster would take ours with it (mpirun then reports that
# ORTE could not start its daemons, or TCP connections fail). The subnet may repeat: each cluster has
# its own bridge in its own namespace.
work=$(mktemp -d)
export DIPS_NETNS_PREFIX="dipst$$-" DIPS_NETNS_STATE="$work/netns" DIPS_BIN="$build/dips"
trap '"$cluster" down >/dev/null 2>&1; rm -rf "$work"' EXIT
# Root in a chroot or a container without the right to make (or enter) namespaces: skip, saying why.
probe_ns="${DIPS_NETNS_PREFIX}probe"
if ! probe=$(ip netns add "$probe_ns" 2>&1 && ip netns exec "$probe_ns" true 2>&1); then
  ip netns del "$probe_ns" 2>/dev/null
  echo "SKIP: cannot make or enter network namespaces here: $probe"; exit 77
fi
ip netns del "$probe_ns"
if ! setup=$("$cluster" up 4 2>&1); then echo "SKIP: cannot set up the namespace hosts here: $setup"; exit 77; fi

mkdir -p "$work/in"
"$build/dips-make-samples" "$work/in"
for i in 1 2 3 4 5; do cp "$work/in/photo_large.jpg" "$work/in/copy$i.jpg"; done
ops=blur=5,edge_detection
failures=0
# Pixels, not bytes: bands of a PNG are compressed apart, so equal images can be different files. Both are
# decoded and written again by OpenCV (resize without a size is the identity).
check_outputs() {  # $1: output dir
  for f in "$work"/in/*; do
    name=$(basename "${f%.*}").png
    "$build/dips-reference" "$ops" "$f" "$work/ref.png" >/dev/null
    # Pixels, not bytes: workers deflate a banded PNG's bands separately (other bytes, same image).
    if ! "$build/dips-reference" --same-pixels "$work/ref.png" "$1/$name"; then
      echo "FAIL: $1/$name differs from the whole-image reference"; failures=$((failures + 1))
    fi
  done
  lost=$(tail -1 "$1/report.jsonl" | grep -o '"workers_lost":\[[0-9,]*\]')
  [ "$lost" = "\"workers_lost\":[$2]" ] || { echo "FAIL: expected workers_lost [$2], report says $lost"; failures=$((failures + 1)); }
}

# One piece per worker at a time (--lookahead 0): an injected fault lands while the job has work left.
# World ranks, one per host (--launch world: ranks 1..3 on hosts 1..3); the spawned launch is in
# netns_elastic_test.sh. Pings get 5 s (not 1.5): on a loaded machine a live worker was once declared lost
# along with the cut one.
echo "== worker on host 2 killed mid-job (TCP between namespaces)"
DIPS_FAULT=rank:2,after:3,kind:kill "$cluster" run -- --launch world -- --quiet --lookahead 0 --ping-timeout 5 --tail-copies off --format png --tile-rows 48 --op "$ops" --output "$work/out1" "$work/in"
code=$?
[ $code = 0 ] || { echo "FAIL: dips-run exited $code"; failures=$((failures + 1)); }
check_outputs "$work/out1" 2

echo "== host 3's link cut mid-job"
# Rank 0 holds (sends no more work) after its first task until it has lost a worker: the cut is certain
# to land while the job runs, and the job cannot end before the loss is noticed.
DIPS_FAULT=rank:0,after:1,kind:hold "$cluster" run -- --launch world -- --quiet --lookahead 0 --ping-timeout 5 --format png --tile-rows 16 --op "$ops" --output "$work/out2" "$work/in" &
run_pid=$!
held=0
# Wait until the first task is done, then cut. No time limit of its own (a busy machine may take minutes):
# the job holds until it has lost a worker, so only its own failure ends it first; ctest's TIMEOUT guards
# against a hang.
while kill -0 $run_pid 2>/dev/null; do
  n=$(grep -c '"input"' "$work/out2/report.jsonl" 2>/dev/null || true)
  [ "${n:-0}" -ge 1 ] && { held=1; break; }
  sleep 0.05
done
[ $held = 1 ] || { echo "FAIL: the job did not reach its first task"; failures=$((failures + 1)); }
"$cluster" cut 3
wait $run_pid
code=$?
[ $code = 0 ] || { echo "FAIL: dips-run exited $code after the link cut"; failures=$((failures + 1)); }
check_outputs "$work/out2" 3

[ $failures = 0 ] && echo "netns: 2 passed, 0 failed" || echo "netns: $failures failures"
[ $failures = 0 ]
