#!/usr/bin/env bash
# scripts/dips.sbatch on a throwaway Slurm cluster of this one machine (slurmctld, slurmd and munge from
# Debian, started by hand in a temporary folder, on free ports; no systemd). Root only; skipped (77) with
# the reason otherwise.
#  1. A sample job: outputs equal to the whole-image reference, the job's exit code is dips' (0).
#  2. A longer job, stopped mid-way by scancel (SIGTERM to every process of the job): a clean stop, exit 4.
#     Resubmitted with --resume, stopped mid-way again by the early-warning signal (SIGUSR1 to the batch
#     script, what --signal=B:USR1@60 sends): exit 4. Resubmitted with --resume: done, exit 0. The union of
#     the three runs is exactly the whole job: every output equal to the reference, every task once in the
#     report's final state.
# Mid-way by construction: DIPS_FAULT=rank:0,after:1,kind:hold makes rank 0 send no more work after its
# first task (for 60 s), and the signal goes once the report shows that task.
# Usage: slurm_test.sh BUILD_DIR   (prints the time from sbatch to done for the sample job)
set -uo pipefail
build=$(cd "$1" && pwd)
source_root=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root: the throwaway Slurm's daemons run as root"
for tool in slurmctld slurmd sbatch squeue scancel scontrol sinfo munged mungekey ss perl; do
  command -v "$tool" > /dev/null || skip "$tool not installed (Debian: apt-get install slurmctld slurmd slurm-client munge; or scripts/install-deps.sh --slurm)"
done
perl -MJSON::PP -e 1 2> /dev/null || skip "perl's JSON::PP is missing"

work=$(mktemp -d /tmp/dips-slurm-test.XXXXXX)
chmod 755 "$work"
export SLURM_CONF=$work/slurm.conf
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
# Polls "$@" every 0.2 s until it succeeds; false after $timeout seconds.
wait_for() {
  local timeout=$1; shift
  local until=$(($(now_ms) + timeout * 1000))
  until "$@"; do
    [ "$(now_ms)" -lt "$until" ] || return 1
    sleep 0.2
  done
}

stop_cluster() {
  squeue -h -o %i 2> /dev/null | xargs -r scancel 2> /dev/null
  wait_for 30 no_live_jobs
  for daemon in slurmd slurmctld munged; do
    [ -f "$work/$daemon.pid" ] && kill "$(cat "$work/$daemon.pid")" 2> /dev/null
  done
  sleep 0.5
}
no_live_jobs() { [ -z "$(squeue -h -o %i 2> /dev/null)" ]; }
trap 'stop_cluster; [ -n "${DIPS_KEEP_TEST_DIR:-}" ] || rm -rf "$work"' EXIT

free_port() {  # a TCP port nobody listens on
  local port
  while true; do
    port=$((20000 + RANDOM % 30000))
    ss -ltnH "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

# ---- the cluster: munge, slurmctld, slurmd, one node of 4 CPUs (more than the machine has: allowed by
# config_overrides) ----
mkdir -p "$work/munge" "$work/state" "$work/spool"
chmod 755 "$work/munge"
mungekey --create --keyfile="$work/munge/munge.key" 2> /dev/null || mungekey -c -k "$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.sock" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munge/seed" || skip "munged does not start here: $(tail -3 "$work/munged.log" 2> /dev/null)"
node=dipsnode
cat > "$SLURM_CONF" << CONF
ClusterName=dipstest$$
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.sock
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
KillWait=30
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
started=$(now_ms)
slurmctld -i -f "$SLURM_CONF" || skip "slurmctld does not start here: $(tail -3 "$work/slurmctld.log")"
slurmd -N "$node" -f "$SLURM_CONF" || skip "slurmd does not start here: $(tail -3 "$work/slurmd.log")"
node_idle() { [ "$(sinfo -h -N -o %t 2> /dev/null)" = idle ]; }
wait_for 30 node_idle || skip "the throwaway node never became idle: $(tail -3 "$work/slurmd.log")"
echo "cluster up in $(($(now_ms) - started)) ms"

# ---- helpers ----
job_field() { scontrol show job "$1" -o 2> /dev/null | grep -o "$2=[^ ]*" | cut -d= -f2; }
job_over() { [ -z "$(squeue -h -j "$1" -o %i 2> /dev/null)" ]; }
task_lines() { local n; n=$(grep -c '"input"' "$report" 2> /dev/null); echo "${n:-0}"; }
# Submits dips.sbatch from the source folder (Slurm runs a copy from its spool: it finds scripts/dips-run
# through SLURM_SUBMIT_DIR); prints the job id.
submit() {
  (cd "$source_root" && sbatch --parsable -n 3 --output="$work/job-%j.out" scripts/dips.sbatch "$@")
}
summary_field() { tail -1 "$1" | FIELD=$2 perl -MJSON::PP -ne 'my $v = decode_json($_)->{summary}{$ENV{FIELD}}; print defined $v ? $v : "?"'; }
check_exact() {  # $1: output folder, $2: pipeline, $3: input folder: every input's output equals the reference
  for input in "$3"/*; do
    local name; name=$(basename "${input%.*}").png
    "$build/dips-reference" "$2" "$input" "$work/reference.png" > /dev/null
    cmp -s "$work/reference.png" "$1/$name" || fail "$1/$name differs from the whole-image reference (or is missing)"
  done
}
export DIPS_BIN=$build/dips

# ---- 1. the sample job ----
mkdir -p "$work/samples"
"$build/dips-make-samples" "$work/samples" > /dev/null
submitted=$(now_ms)
job=$(submit --format png --op blur=3 --output "$work/out1" "$work/samples") || { fail "sbatch refused the sample job"; exit 1; }
wait_for 120 job_over "$job" || fail "the sample job did not end within 120 s"
echo "sample job: sbatch to done in $(($(now_ms) - submitted)) ms (polling squeue every 0.2 s)"
[ "$(job_field "$job" ExitCode)" = 0:0 ] || fail "sample job: ExitCode $(job_field "$job" ExitCode), expected 0:0 ($(cat "$work/job-$job.out"))"
[ "$(job_field "$job" JobState)" = COMPLETED ] || fail "sample job: state $(job_field "$job" JobState)"
check_exact "$work/out1" blur=3 "$work/samples"
[ "$(summary_field "$work/out1/report.jsonl" exit_code)" = 0 ] || fail "sample job: the report's summary does not say exit 0"

# ---- 2. a longer job: scancel, early warning, then done ----
mkdir -p "$work/in"
for i in 1 2 3 4 5 6 7 8; do cp "$work/samples/photo_small.png" "$work/in/copy$i.png"; done
args=(--lookahead 0 --format png --op blur=5,edge_detection --output "$work/out2" "$work/in")
report=$work/out2/report.jsonl
# $1: how to stop it (a scancel command line), $2: extra dips argument
stopped_run() {
  local job
  job=$(DIPS_FAULT=rank:0,after:1,kind:hold submit "${args[@]}" $2) || { fail "sbatch refused the job"; return; }
  local tasks_before; tasks_before=$(task_lines)
  report_has_more() { [ "$(task_lines)" -gt "$tasks_before" ]; }
  wait_for 120 report_has_more || { fail "job $job never showed progress: $(cat "$work/job-$job.out")"; scancel "$job"; return; }
  local signalled; signalled=$(now_ms)
  $1 "$job"
  wait_for 60 job_over "$job" || fail "job $job did not end within 60 s of '$1'"
  echo "'$1': job over $(($(now_ms) - signalled)) ms after the signal; state $(job_field "$job" JobState), ExitCode $(job_field "$job" ExitCode)"
  [ "$(job_field "$job" ExitCode)" = 4:0 ] || fail "'$1': ExitCode $(job_field "$job" ExitCode), expected 4:0 (dips interrupted): $(cat "$work/job-$job.out")"
  [ "$(summary_field "$report" interrupted)" = 1 ] || fail "'$1': the report's last line is not an interrupted summary"
  [ "$(summary_field "$report" unfinished)" -ge 1 ] 2> /dev/null || fail "'$1': nothing left unfinished: the stop was not mid-way"
  ! ls -a "$work/out2" | grep -q '^\.dips-' || fail "'$1': temporary files left in the output folder"
}
stopped_run "scancel" ""
stopped_run "scancel --batch --signal=USR1" --resume
job=$(submit "${args[@]}" --resume)
wait_for 120 job_over "$job" || fail "the resumed job did not end within 120 s"
[ "$(job_field "$job" ExitCode)" = 0:0 ] || fail "resumed job: ExitCode $(job_field "$job" ExitCode): $(cat "$work/job-$job.out")"
check_exact "$work/out2" blur=5,edge_detection "$work/in"
# The report's final state: every task ok exactly once over the three runs.
perl -MJSON::PP -ne '
  my $j = eval { decode_json($_) } or next;
  $ok{$j->{output}}++ if exists $j->{input} && $j->{status} eq "ok";
  END { my @bad = grep { $ok{$_} != 1 } keys %ok; print scalar(keys %ok), " ", scalar(@bad), "\n" }' "$report" > "$work/count"
read -r tasks twice < "$work/count"
[ "$tasks" = 8 ] && [ "$twice" = 0 ] || fail "the report's final state has $tasks tasks ok ($twice more than once), expected 8 once each"

[ "$failures" = 0 ] && echo "slurm: ok"
exit $((failures > 0))
