#!/usr/bin/env bash
# Elastic workers across hosts over real TCP (network namespaces, scripts/netns-cluster.sh): two VMs with
# two workers each in the spawned launch shape (dips-run's default with a hostfile). A worker killed, then
# three killed one after another: the job completes exact, a replacement did pieces, dips-run exits 0
# promptly and no dips, orted or mpirun process is left in any namespace. Then --grow-from: a host added
# mid-job gets workers that take pieces; a host removed mid-job drains, nothing lost.
# Skips (exit 77) where it cannot make namespaces (not root). Usage: netns_elastic_test.sh BUILD_DIR
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")/.." && pwd)
cluster="$here/scripts/netns-cluster.sh"
export DIPS_NETNS_PREFIX=dipse DIPS_NETNS_STATE=/tmp/dips-netns-elastic DIPS_BIN="$build/dips"
if [ "$(id -u)" != 0 ]; then echo "SKIP: not root: network namespaces need root"; exit 77; fi
if ! probe=$(ip netns add dipse-probe 2>&1 && ip netns exec dipse-probe true 2>&1); then
  ip netns del dipse-probe 2>/dev/null
  echo "SKIP: cannot make or enter network namespaces here: $probe"; exit 77
fi
ip netns del dipse-probe
work=$(mktemp -d)
trap '"$cluster" down >/dev/null 2>&1; rm -rf "$work"' EXIT
if ! setup=$("$cluster" up 3 2>&1); then echo "SKIP: cannot set up the namespace hosts here: $setup"; exit 77; fi
vm1=10.77.0.11 vm2=10.77.0.12

mkdir -p "$work/in"
"$build/dips-make-samples" "$work/in" >/dev/null
for i in 1 2 3; do cp "$work/in/photo_large.jpg" "$work/in/copy$i.jpg"; done
ops=blur=5,edge_detection
for f in "$work"/in/*; do
  "$build/dips-reference" "$ops" "$f" "$work/ref-$(basename "${f%.*}").png" >/dev/null
done
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
summary() { tail -1 "$1/report.jsonl" | grep -o "\"$2\":\[[0-9,]*\]"; }

# Pixels, not bytes: bands of a PNG are compressed apart, so equal images can be different files.
check_outputs() {  # $1: output dir
  for f in "$work"/in/*; do
    name=$(basename "${f%.*}")
    "$build/dips-reference" --same-pixels "$work/ref-$name.png" "$1/$name.png" ||
      fail "$1/$name.png differs from the whole-image reference"
  done
  grep -q '"status":"error"' "$1/report.jsonl" && fail "a task failed in $1"
}

# Pieces a worker's result counted for.
pieces_of() { grep -o "\"worker\":$2," "$1/report.jsonl" | wc -l; }

# Nothing of the job may be left in any namespace (waits up to 15 s for processes on their way out).
check_nothing_left() {
  local left=""
  for _ in $(seq 150); do
    left=""
    for ns in dipse0 dipse1 dipse2; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do left="$left $ns:$(cat /proc/$pid/comm 2>/dev/null)"; done
    done
    [ -z "$left" ] && return
    sleep 0.1
  done
  fail "processes left after the job:$left"
}

run() {  # $1: hostfile, $2: ranks, then dips-run flags up to --, then dips arguments
  local hosts=$1 ranks=$2; shift 2
  "$cluster" run -- -n "$ranks" --hostfile "$hosts" "$@"
}

printf '%s slots=2\n%s slots=2\n' $vm1 $vm2 > "$work/two-vms"
# One piece per worker at a time (--lookahead 0): a fault armed on global progress lands mid-job.
# --tail-copies off: the kills below are to be declared (a job ended by copies of its pieces may not declare them).
args=(--quiet --lookahead 0 --tail-copies off --format png --tile-rows 48 --op "$ops")

echo "== two VMs, two workers each: the worker on $vm2 killed mid-job"
start=$SECONDS
DIPS_FAULT=rank:2,after:3,kind:kill run "$work/two-vms" 5 -- "${args[@]}" --output "$work/out1" "$work/in"
code=$?
took=$((SECONDS - start))
[ $code = 0 ] || fail "dips-run exited $code"
[ $took -lt 120 ] || fail "dips-run took $took s"
check_outputs "$work/out1"
[ "$(summary "$work/out1" workers_lost)" = '"workers_lost":[2]' ] || fail "expected workers_lost [2]: $(summary "$work/out1" workers_lost)"
[ "$(summary "$work/out1" workers_spawned)" = '"workers_spawned":[5]' ] || fail "expected workers_spawned [5]: $(summary "$work/out1" workers_spawned)"
[ "$(pieces_of "$work/out1" 5)" -gt 0 ] || fail "the replacement did no piece"
grep -q "\"worker\":5,\"host\":\"$vm2\"" "$work/out1/report.jsonl" || fail "the replacement was not started on $vm2 (where a worker still ran)"
check_nothing_left

echo "== three workers killed one after another"
DIPS_FAULT='rank:2,after:3,kind:kill;rank:1,after:12,kind:kill;rank:5,after:24,kind:kill' \
  run "$work/two-vms" 5 -- "${args[@]}" --output "$work/out2" "$work/in"
code=$?
[ $code = 0 ] || fail "dips-run exited $code"
check_outputs "$work/out2"
# In any order: rank 1's fault can fire (by global progress) before rank 2's death is noticed (by deadline).
lost=$(summary "$work/out2" workers_lost | grep -o '[0-9]\+' | sort -n | paste -sd,)
[ "$lost" = 1,2,5 ] || fail "expected workers 1, 2 and 5 lost: $(summary "$work/out2" workers_lost)"
[ "$(summary "$work/out2" workers_spawned)" = '"workers_spawned":[5,6,7]' ] || fail "expected workers_spawned [5,6,7]: $(summary "$work/out2" workers_spawned)"
[ "$(pieces_of "$work/out2" 7)" -gt 0 ] || fail "the last replacement did no piece"
check_nothing_left

# Rank 0 holds the work after its first task until a worker joins or leaves: the file changes mid-job.
grow_test() {  # $1: name, $2: hostfile before, $3: after, $4: ranks
  printf "$2" > "$work/grow-$1"
  DIPS_FAULT=rank:0,after:1,kind:hold "$cluster" run -- -n "$4" --grow-from "$work/grow-$1" -- "${args[@]}" \
    --output "$work/out-$1" "$work/in" &
  local pid=$! held=0
  for _ in $(seq 2400); do
    n=$(grep -c '"input"' "$work/out-$1/report.jsonl" 2>/dev/null || true)
    [ "${n:-0}" -ge 1 ] && { held=1; break; }
    sleep 0.05
  done
  [ $held = 1 ] || fail "$1: the job did not reach its first task"
  printf "$3" > "$work/grow-$1.new" && mv "$work/grow-$1.new" "$work/grow-$1"
  wait $pid
  code=$?
  [ $code = 0 ] || fail "$1: dips-run exited $code"
  check_outputs "$work/out-$1"
  [ "$(summary "$work/out-$1" workers_lost)" = '"workers_lost":[]' ] || fail "$1: workers lost: $(summary "$work/out-$1" workers_lost)"
  check_nothing_left
}

echo "== a host added to the --grow-from file mid-job"
grow_test add "$vm1 slots=2\n" "$vm1 slots=2\n$vm2 slots=2\n" 3
[ "$(summary "$work/out-add" workers_spawned)" = '"workers_spawned":[3,4]' ] || fail "expected workers_spawned [3,4]: $(summary "$work/out-add" workers_spawned)"
for w in 3 4; do [ "$(pieces_of "$work/out-add" $w)" -gt 0 ] || fail "added worker $w did no piece"; done
grep -q "\"worker\":3,\"host\":\"$vm2\"" "$work/out-add/report.jsonl" || fail "worker 3 not started on $vm2"

echo "== a host removed from the --grow-from file mid-job"
grow_test remove "$vm1 slots=2\n$vm2 slots=2\n" "$vm1 slots=2\n" 5
for w in 2 4; do grep -q "\"event\":\"worker_retired\",\"worker\":$w," "$work/out-remove/report.jsonl" || fail "worker $w on $vm2 did not drain"; done

[ $failures = 0 ] && echo "netns elastic: passed" || echo "netns elastic: $failures failures"
[ $failures = 0 ]
