#!/usr/bin/env bash
# Rehearse a cluster on one machine (root only): network namespaces as hosts on a private bridge, real TCP
# between them, mpirun launching into them like ssh would. Use it to try your own failures.
#
#   scripts/netns-cluster.sh up 4            # hosts dh0..dh3 at 10.77.0.10..13 (prints the hostfile)
#   scripts/netns-cluster.sh run -- ARGS     # scripts/dips-run ARGS inside dh0, one rank per host over TCP
#   scripts/netns-cluster.sh cut 2           # pull host dh2's network cable (ip link set eth0 down)
#   scripts/netns-cluster.sh kill 2          # SIGKILL every dips process on host dh2
#   scripts/netns-cluster.sh down            # remove the hosts and anything still running in them
#
# Only addresses inside these namespaces carry traffic (10.77.0.0/24 exists nowhere else).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${DIPS_NETNS_STATE:-/tmp/dips-netns}
prefix=${DIPS_NETNS_PREFIX:-dh}
switch=${prefix}sw
subnet=10.77.0

need_root() { [ "$(id -u)" = 0 ] || { echo "netns-cluster: needs root (ip netns)" >&2; exit 77; }; }

up() {
  local hosts=$1
  need_root
  down >/dev/null 2>&1 || true
  mkdir -p "$state"
  ip netns add "$switch"
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  : > "$state/hostfile"
  for ((i = 0; i < hosts; i++)); do
    ip netns add "$prefix$i"
    ip link add eth0 netns "$prefix$i" type veth peer name "p$i" netns "$switch"
    ip -n "$switch" link set "p$i" master br0
    ip -n "$switch" link set "p$i" up
    ip -n "$prefix$i" addr add "$subnet.1$i/24" dev eth0
    ip -n "$prefix$i" link set eth0 up
    ip -n "$prefix$i" link set lo up
    echo "$subnet.1$i slots=1" >> "$state/hostfile"
  done
  echo "$hosts" > "$state/hosts"
  # mpirun's "ssh": drop ssh options, map the address to its namespace, run the command there.
  cat > "$state/rsh" <<RSH
#!/usr/bin/env bash
while [[ "\${1:-}" == -* ]]; do shift; done
host=\$1; shift
ns=$prefix\${host##*.1}
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$ns; \$*"
RSH
  chmod +x "$state/rsh"
  cat "$state/hostfile"
}

run() {
  need_root
  [ -f "$state/hostfile" ] || { echo "netns-cluster: no cluster; run 'up N' first" >&2; exit 2; }
  local hosts
  hosts=$(cat "$state/hosts")
  ip netns exec "${prefix}0" "$here/dips-run" -n "$hosts" --hostfile "$state/hostfile" \
    --mpirun-arg --map-by --mpirun-arg node \
    --mpirun-arg --mca --mpirun-arg btl --mpirun-arg self,tcp \
    --mpirun-arg --mca --mpirun-arg btl_tcp_if_include --mpirun-arg "$subnet.0/24" \
    --mpirun-arg --mca --mpirun-arg oob_tcp_if_include --mpirun-arg "$subnet.0/24" \
    --mpirun-arg --mca --mpirun-arg plm_rsh_agent --mpirun-arg "$state/rsh" \
    "$@"
}

host_pids() { ip netns pids "$prefix$1" 2>/dev/null || true; }

down() {
  need_root
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix([0-9]+|sw)$" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$state"
}

case "${1:-}" in
  up) up "${2:?how many hosts}" ;;
  run) shift; [ "${1:-}" = -- ] && shift; run "$@" ;;
  cut) need_root; ip -n "$prefix${2:?host number}" link set eth0 down ;;
  kill) need_root; pids=$(host_pids "${2:?host number}"); [ -z "$pids" ] || kill -9 $pids ;;
  down) down ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
