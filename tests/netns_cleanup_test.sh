#!/usr/bin/env bash
# When dips-run ends mpirun itself (here: a third SIGTERM while rank 0 is stuck, so that dips cannot stop
# on its own), nothing of the job may stay on the other hosts: the MPI daemons (orted) there lose their
# connection to mpirun and end their processes. Checked in both launch shapes over network namespaces
# (scripts/netns-cluster.sh), with --orphan-timeout 120 so that the workers' own rule (exit when rank 0
# is silent) cannot be what clears them within the 30 s allowed.
# Skips (exit 77) where it cannot make namespaces (not root). Usage: netns_cleanup_test.sh BUILD_DIR SHAPE
set -uo pipefail
build=$1 shape=${2:-spawned}
case $shape in
  spawned) prefix=dipsl ;;
  world) prefix=dipsm ;;
  *) echo "usage: $0 BUILD_DIR spawned|world" >&2; exit 2 ;;
esac
source "$(dirname "$0")/netns_common.sh"
netns_up 3

echo "== $shape launch: dips-run kills mpirun (third SIGTERM) while rank 0 is stuck"
printf '%s slots=2\n%s slots=2\n' $vm1 $vm2 > "$work/hosts"
job_args+=(--orphan-timeout 120)
# dips-run's own flags go before the "--" that netns-cluster.sh's run puts in front of them.
DIPS_FAULT=rank:0,after:1,kind:hold "$cluster" run -- -n 5 --hostfile "$work/hosts" --launch "$shape" -- \
  "${job_args[@]}" --output "$work/out" "$work/in" > "$work/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 2400); do
  [ "$(grep -c '"input"' "$work/out/report.jsonl" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
  sleep 0.05
done
[ "$(grep -c '"input"' "$work/out/report.jsonl" 2>/dev/null)" -ge 1 ] 2>/dev/null || { fail "the job did not reach its first task"; cat "$work/run.log"; exit 1; }
before=$(processes_on 1 2)
echo "running on the VMs:$before"
[[ "$before" == *"1:orted"* && "$before" == *"2:orted"* && "$before" == *"2:dips"* ]] || fail "expected daemons on both VMs and workers on VM2"

# Rank 0: the dips process that is rank 0 of its MPI job and not a started worker (--worker-id).
rank0=""
for p in $(ip netns pids "${prefix}1"); do
  [ "$(cat /proc/"$p"/comm 2>/dev/null)" = dips ] || continue
  tr '\0' '\n' < /proc/"$p"/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 || continue
  tr '\0' '\n' < /proc/"$p"/cmdline | grep -q -- '--worker-id' && continue
  rank0=$p
done
[ -n "$rank0" ] || { fail "cannot find rank 0 on VM1"; exit 1; }
kill -STOP "$rank0"
for _ in $(seq 100); do grep -q '^State:.*stopped' /proc/"$rank0"/status && break; sleep 0.05; done
grep -q '^State:.*stopped' /proc/"$rank0"/status || fail "rank 0 (pid $rank0) did not stop"
dips_run=$(pgrep -P $run_pid)
# One SIGTERM at a time: each after dips-run has said what it did with the one before.
for said in "asking dips to stop" "SIGTERM again" "a third time: killing mpirun"; do
  kill -TERM "$dips_run"
  for _ in $(seq 600); do grep -q "$said" "$work/run.log" && break; sleep 0.05; done
  grep -q "$said" "$work/run.log" || fail "dips-run did not say '$said'"
done
t0=$(now_s)
wait_run 60
echo "dips-run exited $code, $(since "$t0") s after the third SIGTERM"
sed 's/^/  | /' "$work/run.log"
[ "$code" = 4 ] || fail "expected exit 4 (interrupted), got $code"
expect_nothing_left 30 0 1 2

[ $failures = 0 ] && echo "netns cleanup ($shape): passed" || echo "netns cleanup ($shape): $failures failures"
[ $failures = 0 ]
