#!/usr/bin/env bash
# Shaped links of scripts/netns-cluster.sh (what bench/rehearsal.sh builds on): 3 namespace hosts, rank 0's
# link at 16 Mbit/s and the others' at 32 Mbit/s with tc. Checks that the token buckets sit on both ends of
# every link, that `run -n 2` uses two of the three hosts, that a job whose bytes all cross rank 0's link
# (--io mpi) is exact and cannot finish faster than that link carries them (a lower bound on time: a busy
# machine only makes it slower), that `shape none` removes the shaping, and that --delay either adds netem
# or, on a kernel without it, is refused with a clear message. Skips (exit 77) without root or namespaces.
# Usage: netns_shaping_test.sh BUILD_DIR
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")/.." && pwd)
cluster="$here/scripts/netns-cluster.sh"
# Names of this run alone: another checkout may run the same test at the same time.
ns=dipsh$$
export DIPS_NETNS_PREFIX=$ns DIPS_NETNS_STATE=/tmp/dips-netns-shaping-test.$$ DIPS_BIN="$build/dips"
if [ "$(id -u)" != 0 ]; then echo "SKIP: not root: network namespaces need root"; exit 77; fi
if ! probe=$(ip netns add "$ns-probe" 2>&1 && ip netns exec "$ns-probe" true 2>&1 &&
             tc -n "$ns-probe" qdisc add dev lo root tbf rate 1mbit burst 128k latency 50ms 2>&1); then
  ip netns del "$ns-probe" 2>/dev/null
  echo "SKIP: cannot make namespaces or tc token buckets here: $probe"; exit 77
fi
ip netns del "$ns-probe"
work=$(mktemp -d)
trap '"$cluster" down >/dev/null 2>&1; rm -rf "$work"' EXIT
if ! setup=$("$cluster" up 3 --rate 32mbit --rate0 16mbit 2>&1); then
  echo "SKIP: cannot set up the namespace hosts here: $setup"; exit 77
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

qdisc() { tc -n "$1" qdisc show dev "$2"; }
echo "== token buckets on both ends of every link"
for spec in 0:eth0:16Mbit sw:p0:16Mbit 1:eth0:32Mbit sw:p1:32Mbit 2:eth0:32Mbit sw:p2:32Mbit; do
  IFS=: read -r host dev rate <<< "$spec"
  qdisc "$ns$host" "$dev" | grep -q "tbf .*rate $rate" || fail "$ns$host $dev: no tbf at $rate: $(qdisc "$ns$host" "$dev")"
done

echo "== a job's bytes through rank 0's shaped link (--io mpi, rank 0 + 1 worker)"
mkdir -p "$work/in" "$work/samples"
"$build/dips-make-samples" "$work/samples" >/dev/null || { echo "FAIL: dips-make-samples"; exit 1; }
for i in 1 2 3; do cp "$work/samples/photo_large.jpg" "$work/in/copy$i.jpg"; done
sent=$(cat "$work"/in/*.jpg | wc -c)
start=$(date +%s.%N)
"$cluster" run -n 2 -- --launch world -- --quiet --io mpi --format jpg --op grayscale --output "$work/out" "$work/in"
code=$?
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
[ $code = 0 ] || fail "dips-run exited $code"
for f in "$work"/in/*.jpg; do
  name=$(basename "$f")
  "$build/dips-reference" grayscale "$f" "$work/ref.jpg" >/dev/null
  "$build/dips-reference" --same-pixels "$work/ref.jpg" "$work/out/$name" 2>/dev/null || fail "$name differs from the whole-image reference"
done
workers=$(grep -o '"worker":[0-9]*' "$work/out/report.jsonl" | sort -u | paste -sd' ')
[ "$workers" = '"worker":1' ] || fail "run -n 2 should use one worker (rank 1), the report names: $workers"
# The inputs leave rank 0 at 16 Mbit/s at most; tbf lets one burst (128 KiB) through unshaped.
floor=$(awk -v b="$sent" 'BEGIN { print (b - 131072) * 8 / 16e6 }')
echo "   $sent bytes of inputs, $elapsed s (the link alone needs at least $floor s)"
awk -v e="$elapsed" -v f="$floor" 'BEGIN { exit !(e >= f) }' || fail "the job took $elapsed s, under the $floor s rank 0's link needs"

echo "== shape none removes the shaping"
"$cluster" shape none 2>/dev/null || fail "shape none failed"
for spec in 0:eth0 sw:p0 1:eth0; do
  IFS=: read -r host dev <<< "$spec"
  if qdisc "$ns$host" "$dev" | grep -q tbf; then fail "$ns$host $dev still shaped: $(qdisc "$ns$host" "$dev")"; fi
done

echo "== --delay: netem when the kernel has it, a clear refusal otherwise"
if ip netns add "$ns-netem" 2>/dev/null && tc -n "$ns-netem" qdisc add dev lo root netem delay 1ms 2>/dev/null; then
  ip netns del "$ns-netem"
  "$cluster" shape 32mbit --delay 1ms 2>/dev/null || fail "shape --delay failed with netem available"
  qdisc "${ns}1" eth0 | grep -q "netem .*delay 1ms" || fail "no netem delay on ${ns}1: $(qdisc "${ns}1" eth0)"
else
  ip netns del "$ns-netem" 2>/dev/null
  message=$("$cluster" shape 32mbit --delay 1ms 2>&1)
  code=$?
  [ $code = 2 ] || fail "shape --delay without netem exited $code, expected 2"
  [[ "$message" == *"no netem"* ]] || fail "shape --delay without netem said: $message"
fi

[ $failures = 0 ] && echo "netns shaping: passed" || echo "netns shaping: $failures failures"
[ $failures = 0 ]
