#!/usr/bin/env bash
# Losing a VM's MPI daemon (orted, SIGKILL) mid-job, over network namespaces (scripts/netns-cluster.sh), in
# the spawned launch shape (dips-run's default with a hostfile). Open MPI 4.1 cannot bring that VM back:
#   finish         two VMs with two workers each, VM2's daemon killed: rank 0 finishes on VM1 without
#                  starting anything on VM2 (a host whose workers were all lost is suspect), or stops with
#                  exit 3 and --resume completes.
#   no-worker-left every worker on VM2 (--respawn 0), VM2's daemon killed: exit 3, then --resume with a
#                  hostfile without VM2 completes.
#   rank0-vm       the daemon of rank 0's VM killed (rank 0 goes with it): dips-run ends the mpirun that
#                  would wait for ever, exit 3, then --resume with a hostfile without that VM completes.
# Every case: the outputs are exact, dips-run returns promptly (the time is printed), no dips, orted or
# mpirun process is left in any namespace, and a --resume does not redo the tasks finished before.
# Skips (exit 77) where it cannot make namespaces (not root). Usage: netns_vm_loss_test.sh BUILD_DIR CASE
set -uo pipefail
build=$1 case=${2:-finish}
case $case in
  finish) prefix=dipsv ;;
  no-worker-left) prefix=dipsw ;;
  rank0-vm) prefix=dipsr ;;
  *) echo "usage: $0 BUILD_DIR finish|no-worker-left|rank0-vm" >&2; exit 2 ;;
esac
source "$(dirname "$0")/netns_common.sh"
netns_up 4

# $1: hostfile, $2: ranks, $3: host whose daemon dies, then more dips arguments; $4.. also go to --resume,
# which runs on $resume_hosts with $resume_ranks.
lose_daemon() {
  local hosts=$1 ranks=$2 victim=$3; shift 3
  start_held "$case" "$ranks" "$hosts" "$@" || return
  local t0
  t0=$(now_s)
  kill_daemon "$victim"
  wait_run 120 "$work/out-$case/report.jsonl" "$t0"
  local took
  took=$(since "$t0")
  echo "dips-run exited $code, $took s after the daemon of host $victim was killed"
  sed 's/^/  | /' "$work/$case.log"
  [ "$code" != hung ] || fail "dips-run did not return within 120 s of the kill"
  expect_nothing_left 30 0 1 2 3
  local out=$work/out-$case
  case $code in
    0) [ "$case" = finish ] || fail "exit 0: the job could not have finished" ;;
    3) done_outputs "$out/report.jsonl" > "$work/done-before"
       local lines
       lines=$(wc -l < "$out/report.jsonl")
       "$cluster" run -- -n "$resume_ranks" --hostfile "$resume_hosts" -- "${job_args[@]}" --output "$out" "$@" --resume "$work/in" > "$work/resume.log" 2>&1
       local resumed=$?
       [ $resumed = 0 ] || { fail "--resume exited $resumed"; cat "$work/resume.log"; }
       check_not_redone "$out/report.jsonl" "$work/done-before" "$lines"
       expect_nothing_left 30 0 1 2 3 ;;
    *) fail "dips-run exited $code" ;;
  esac
  check_outputs "$out"
}

case $case in
  finish)
    echo "== VM2's daemon killed mid-job (two VMs, two workers each)"
    printf '%s slots=2\n%s slots=2\n' $vm1 $vm2 > "$work/hosts"
    printf '%s slots=2\n' $vm1 > "$work/resume-hosts"
    resume_hosts=$work/resume-hosts resume_ranks=3
    lose_daemon "$work/hosts" 5 2
    # Only VM1's slots are usable then, and both are taken: nothing is started during the job.
    grep -q '"workers_spawned":\[\]' <(tail -1 "$work/out-finish/report.jsonl") ||
      fail "a worker was started after the daemon died: $(tail -1 "$work/out-finish/report.jsonl")" ;;
  no-worker-left)
    echo "== every worker on VM2, its daemon killed mid-job (--respawn 0)"
    # dips places workers where most slots are free: both go to VM2 (3 slots against VM1's 1).
    printf '%s slots=1\n%s slots=3\n' $vm1 $vm2 > "$work/hosts"
    printf '%s slots=1\n%s slots=2\n' $vm1 $vm3 > "$work/resume-hosts"
    resume_hosts=$work/resume-hosts resume_ranks=3
    lose_daemon "$work/hosts" 3 2 --respawn 0
    [ "$code" = 3 ] || fail "expected exit 3 (no worker left), got $code"
    [ "$(spawn_hosts "$work/out-no-worker-left/report.jsonl" | head -2 | sort -u)" = $vm2 ] ||
      fail "the first two workers did not both go to $vm2: $(spawn_hosts "$work/out-no-worker-left/report.jsonl" | paste -sd' ')" ;;
  rank0-vm)
    echo "== the daemon of rank 0's VM (VM1) killed mid-job"
    printf '%s slots=2\n%s slots=2\n' $vm1 $vm2 > "$work/hosts"
    printf '%s slots=2\n' $vm2 > "$work/resume-hosts"
    resume_hosts=$work/resume-hosts resume_ranks=3
    lose_daemon "$work/hosts" 5 1
    [ "$code" = 3 ] || fail "expected exit 3 (rank 0 lost), got $code"
    grep -q "rank 0 ended without writing a status" "$work/$case.log" || fail "dips-run did not say that rank 0 was gone" ;;
esac

[ $failures = 0 ] && echo "netns vm loss ($case): passed" || echo "netns vm loss ($case): $failures failures"
[ $failures = 0 ]
