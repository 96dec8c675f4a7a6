#!/usr/bin/env bash
# A VM's network link cut mid-job (scripts/netns-cluster.sh cut), in the spawned launch shape (dips-run's
# default with a hostfile), over network namespaces:
#   finish     two VMs with two workers each, VM2 cut: its workers are lost, the job completes exact on
#              VM1 (exit 0) and nothing is started on VM2.
#   none-left  every worker on VM2 (--respawn 0), VM2 cut: exit 3.
# Both: dips-run returns promptly (it ends the mpirun that waits for VM2; the time is printed), nothing is
# left on the hosts that can still be reached (mpirun's, rank 0's), and the cut host's dips workers exit
# on their own (--orphan-timeout: rank 0 is silent to them). What Open MPI 4.1 leaves on the cut host is
# measured and printed, not asserted: its orted keeps running until its link comes back.
# Skips (exit 77) where it cannot make namespaces (not root). Usage: netns_cut_test.sh BUILD_DIR CASE
set -uo pipefail
build=$1 case=${2:-finish}
case $case in
  finish) prefix=dipsc ;;
  none-left) prefix=dipsn ;;
  *) echo "usage: $0 BUILD_DIR finish|none-left" >&2; exit 2 ;;
esac
source "$(dirname "$0")/netns_common.sh"
netns_up 3

if [ "$case" = finish ]; then
  echo "== VM2's link cut mid-job (two VMs, two workers each)"
  printf '%s slots=2\n%s slots=2\n' $vm1 $vm2 > "$work/hosts"
  start_held "$case" 5 "$work/hosts" || exit 1
else
  echo "== VM2's link cut mid-job, every worker on VM2 (--respawn 0)"
  # dips places workers where most slots are free: both go to VM2 (3 slots against VM1's 1).
  printf '%s slots=1\n%s slots=3\n' $vm1 $vm2 > "$work/hosts"
  start_held "$case" 3 "$work/hosts" --respawn 0 || exit 1
fi
out=$work/out-$case
t0=$(now_s)
"$cluster" cut 2
wait_run 120 "$out/report.jsonl" "$t0"
echo "dips-run exited $code, $(since "$t0") s after the cut"
sed 's/^/  | /' "$work/$case.log"
[ "$code" != hung ] || fail "dips-run did not return within 120 s of the cut"
expect_nothing_left 30 0 1
if [ "$case" = finish ]; then
  [ "$code" = 0 ] || fail "expected exit 0 (finished on VM1), got $code"
  check_outputs "$out"
  # The workers lost are exactly those started on VM2, whichever ids they got.
  lost=$(tail -1 "$out/report.jsonl" | grep -o '"workers_lost":\[[0-9,]*\]' | grep -o '[0-9][0-9,]*' | tr , '\n' | sort)
  on_vm2=$(grep -o '"event":"worker_spawned","worker":[0-9]*,"host":"'$vm2'"' "$out/report.jsonl" | grep -o '"worker":[0-9]*' | cut -d: -f2 | sort)
  [ -n "$lost" ] && [ "$lost" = "$on_vm2" ] || fail "workers lost ($(echo $lost)) are not those on $vm2 ($(echo $on_vm2))"
  grep -q '"workers_spawned":\[\]' <(tail -1 "$out/report.jsonl") || fail "a worker was started during the job: $(tail -1 "$out/report.jsonl")"
else
  [ "$code" = 3 ] || fail "expected exit 3 (no worker left), got $code"
  [ "$(spawn_hosts "$out/report.jsonl" | sort -u)" = $vm2 ] || fail "the workers did not all go to $vm2"
fi
# The cut host: its dips workers hear nothing from rank 0 and exit after --orphan-timeout (10 s).
until=$((SECONDS + 60))
while [ $SECONDS -le $until ] && [[ " $(processes_on 2) " == *" 2:dips "* ]]; do sleep 0.1; done
[[ " $(processes_on 2) " == *" 2:dips "* ]] && fail "dips workers still run on the cut host 60 s after dips-run:$(processes_on 2)"
echo "on the cut host, $(since "$t0") s after the cut:$(processes_on 2)"
ip -n "${prefix}2" link set eth0 up
t2=$(now_s)
until=$((SECONDS + 60))
while [ $SECONDS -le $until ] && [ -n "$(processes_on 2)" ]; do sleep 0.1; done
left=$(processes_on 2)
echo "link back up: the cut host runs ${left:- nothing} $(since "$t2") s later"

[ $failures = 0 ] && echo "netns cut ($case): passed" || echo "netns cut ($case): $failures failures"
[ $failures = 0 ]
