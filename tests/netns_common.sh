# Shared by the namespace tests that lose a machine (netns_vm_loss_test.sh, netns_cut_test.sh,
# netns_cleanup_test.sh): sourced, not run. The caller sets build (the build folder) and prefix (its own
# namespace prefix, so that tests run side by side under ctest -j2), then calls netns_up.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cluster="$here/scripts/netns-cluster.sh"
export DIPS_NETNS_PREFIX=$prefix DIPS_NETNS_STATE=/tmp/dips-netns-$prefix DIPS_BIN="$build/dips"
vm1=10.77.0.11 vm2=10.77.0.12 vm3=10.77.0.13
ops=blur=5,edge_detection
# One piece per worker at a time (--lookahead 0): a fault armed on global progress lands mid-job.
job_args=(--quiet --lookahead 0 --format png --tile-rows 48 --op "$ops")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# Makes HOSTS namespace hosts ${prefix}0.. (10.77.0.10..), the job's inputs in $work/in and their
# whole-image references; exits 77 where namespaces cannot be made.
netns_up() {
  if [ "$(id -u)" != 0 ]; then echo "SKIP: not root: network namespaces need root"; exit 77; fi
  local probe
  if ! probe=$(ip netns add "$prefix-probe" 2>&1 && ip netns exec "$prefix-probe" true 2>&1); then
    ip netns del "$prefix-probe" 2>/dev/null
    echo "SKIP: cannot make or enter network namespaces here: $probe"; exit 77
  fi
  ip netns del "$prefix-probe"
  work=$(mktemp -d)
  trap '"$cluster" down >/dev/null 2>&1; rm -rf "$work"' EXIT
  if ! probe=$("$cluster" up "$1" 2>&1); then echo "SKIP: cannot set up the namespace hosts here: $probe"; exit 77; fi
  mkdir -p "$work/in"
  "$build/dips-make-samples" "$work/in" >/dev/null
  for i in 1 2 3; do cp "$work/in/photo_large.jpg" "$work/in/copy$i.jpg"; done
  for f in "$work"/in/*; do "$build/dips-reference" "$ops" "$f" "$work/ref-$(basename "${f%.*}").png" >/dev/null; done
}

# Pixels, not bytes: bands of a PNG are compressed apart, so equal images can be different files.
check_outputs() {  # $1: output folder
  local f name
  for f in "$work"/in/*; do
    name=$(basename "${f%.*}")
    "$build/dips-reference" --same-pixels "$work/ref-$name.png" "$1/$name.png" || fail "$1/$name.png is not exact"
  done
  grep -q '"status":"error"' "$1/report.jsonl" && fail "a task failed in $1"
}

# The processes in namespaces ${prefix}N for each N given, as "N:name" words.
processes_on() {
  local n p
  for n in "$@"; do
    for p in $(ip netns pids "$prefix$n" 2>/dev/null); do printf ' %s:%s' "$n" "$(cat /proc/"$p"/comm 2>/dev/null)"; done
  done
}

# Waits up to $1 s until hosts $2... run nothing (processes on their way out), else fails saying what is left.
expect_nothing_left() {
  local wait_s=$1 left="" start; shift
  start=$(now_s)
  local until=$((SECONDS + wait_s))
  while [ $SECONDS -le $until ]; do
    left=$(processes_on "$@")
    [ -z "$left" ] && { echo "nothing left on hosts $* $(since "$start") s after dips-run"; return; }
    sleep 0.1
  done
  fail "processes left on hosts $* after $wait_s s:$left"
}

# Starts dips-run in the background on the cluster (output in $work/$1.log) with rank 0 holding the work
# after its first task (until a worker is lost: DIPS_FAULT hold), and waits for that task (up to 120 s
# on a busy machine). $1: a name, $2: ranks, $3: hostfile, then more dips arguments. Sets run_pid.
start_held() {
  local name=$1 ranks=$2 hosts=$3; shift 3
  DIPS_FAULT=rank:0,after:1,kind:hold "$cluster" run -- -n "$ranks" --hostfile "$hosts" -- "${job_args[@]}" \
    --output "$work/out-$name" "$@" "$work/in" > "$work/$name.log" 2>&1 &
  run_pid=$!
  for _ in $(seq 2400); do
    [ "$(grep -c '"input"' "$work/out-$name/report.jsonl" 2>/dev/null)" -ge 1 ] 2>/dev/null && return 0
    kill -0 $run_pid 2>/dev/null || break
    sleep 0.05
  done
  fail "$name: the job did not reach its first task"; cat "$work/$name.log"
  return 1
}

# Waits up to $1 s for the background dips-run; sets code (its exit status, or "hung" after ending it)
# and, with a report $2 and a start time $3, prints when dips wrote its summary (to within 0.1 s).
wait_run() {
  local summary="" until=$((SECONDS + $1))
  while [ $SECONDS -le $until ]; do
    if [ -n "${2:-}" ] && [ -z "$summary" ] && tail -1 "$2" 2>/dev/null | grep -q '"summary"'; then
      summary=1
      echo "dips wrote its summary $(since "$3") s after the fault"
    fi
    kill -0 $run_pid 2>/dev/null || { wait $run_pid; code=$?; return; }
    sleep 0.1
  done
  code=hung
  # dips-run itself (the child of the cluster script): a third SIGTERM makes it kill mpirun.
  local dips_run
  dips_run=$(pgrep -P $run_pid)
  for _ in 1 2 3; do kill -TERM $dips_run 2>/dev/null; sleep 1; done
  local until=$((SECONDS + 10))
  while [ $SECONDS -le $until ] && kill -0 $run_pid 2>/dev/null; do sleep 0.1; done
  kill -KILL $dips_run 2>/dev/null  # what it leaves behind is found by the checks, and removed at exit
  wait $run_pid
}

# Kills the MPI daemon (orted) of host $1 with SIGKILL, as a crash of that machine's runtime would.
kill_daemon() {
  local p
  for p in $(ip netns pids "$prefix$1"); do [ "$(cat /proc/"$p"/comm 2>/dev/null)" = orted ] && kill -9 "$p"; done
}

# The output of each task line read on standard input (a task line begins with its input and output).
task_outputs() { sed -n 's/^{"input":"[^"]*","output":"\([^"]*\)".*/\1/p' | sort -u; }

# Output files of the "ok" task lines of a report, sorted, one a line.
done_outputs() { grep '"status":"ok"' "$1" | task_outputs; }

# After a --resume run: the tasks done before (file $2, from done_outputs) were not redone (no new task
# line for them in report $1 past line $3), and the summary counts them as skipped.
check_not_redone() {
  local report=$1 before=$2 lines=$3 redone
  [ -s "$before" ] || fail "no task was recorded done before the --resume"
  redone=$(tail -n +"$((lines + 1))" "$report" | task_outputs | comm -12 - "$before")
  [ -z "$redone" ] || fail "--resume redid tasks finished before: $redone"
  local skipped
  skipped=$(tail -1 "$report" | grep -o '"skipped":[0-9]*' | cut -d: -f2)
  [ "$skipped" = "$(wc -l < "$before")" ] || fail "--resume skipped ${skipped:-?} tasks, $(wc -l < "$before") were done before"
}

# The hosts (addresses) dips started workers on, one per worker_spawned event.
spawn_hosts() { grep -o '"event":"worker_spawned","worker":[0-9]*,"host":"[^"]*"' "$1" | sed 's/.*"host":"//; s/"$//'; }
