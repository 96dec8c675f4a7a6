#!/usr/bin/env bash
# Rehearse a cluster on one machine (root only): network namespaces as hosts on a private bridge, real TCP
# between them, mpirun launching into them like ssh would. Use it to try your own failures, or to shape the
# links and see what the network does to dips (bench/rehearsal.sh).
#
#   scripts/netns-cluster.sh up 4            # hosts dh0..dh3 at 10.77.0.10..13 (prints the hostfile)
#   scripts/netns-cluster.sh up 9 --rate 1gbit [--rate0 RATE] [--delay 0.2ms]
#                                            # the same, each host's link shaped (see shape)
#   scripts/netns-cluster.sh shape RATE [--rate0 RATE] [--delay D]
#                                            # (re)shape every host's link, both directions: RATE as tc
#                                            # writes it (100mbit, 1gbit, 10gbit; "none" removes shaping);
#                                            # --rate0: host dh0's (rank 0's) own rate; --delay: added each way
#                                            # (round trip +2x; needs netem, CONFIG_NET_SCH_NETEM)
#   scripts/netns-cluster.sh run [-n RANKS] -- ARGS   # scripts/dips-run ARGS inside dh0, one rank per host over
#                                            # TCP (default: as many ranks as hosts; fewer use dh0, dh1, ...)
#   scripts/netns-cluster.sh counters 0      # bytes received and sent by host dh0 ("RX TX")
#   scripts/netns-cluster.sh cut 2           # pull host dh2's network cable (ip link set eth0 down)
#   scripts/netns-cluster.sh kill 2          # SIGKILL every dips process on host dh2
#   scripts/netns-cluster.sh down            # remove the hosts and anything still running in them
#
# Only addresses inside these namespaces carry traffic (10.77.0.0/24 exists nowhere else). Up to 100 hosts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${DIPS_NETNS_STATE:-/tmp/dips-netns}
prefix=${DIPS_NETNS_PREFIX:-dh}
switch=${prefix}sw
subnet=10.77.0

need_root() { [ "$(id -u)" = 0 ] || { echo "netns-cluster: needs root (ip netns)" >&2; exit 77; }; }

up() {
  local hosts=$1; shift
  need_root
  case "$hosts" in ''|*[!0-9]*) echo "netns-cluster: up needs a number of hosts" >&2; exit 2 ;; esac
  [ "$hosts" -ge 1 ] && [ "$hosts" -le 100 ] || { echo "netns-cluster: 1 to 100 hosts" >&2; exit 2; }
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
  if [ $# -gt 0 ]; then
    local rate="" rest=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --rate) rate=$2; shift 2 ;;
        *) rest+=("$1"); shift ;;
      esac
    done
    [ -n "$rate" ] || { echo "netns-cluster: up: --rate0 and --delay need --rate" >&2; exit 2; }
    shape "$rate" "${rest[@]}"
  fi
  cat "$state/hostfile"
}

# Shapes one direction of one link: a token bucket at RATE (burst: 1 ms of it, at least 128 KiB, since veth
# hands over 64 KiB segments), then DELAY with netem if asked. "none" removes the shaping.
shape_dev() {  # namespace device rate delay
  local ns=$1 dev=$2 rate=$3 delay=$4
  tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
  [ "$rate" = none ] && [ -z "$delay" ] && return 0
  local parent=root
  if [ "$rate" != none ]; then
    local bps burst
    bps=$(rate_bps "$rate")
    burst=$(( bps / 8 / 1000 )); [ "$burst" -ge 131072 ] || burst=131072
    tc -n "$ns" qdisc add dev "$dev" root handle 1: tbf rate "$rate" burst "$burst" latency 50ms
    parent="parent 1:1"
  fi
  if [ -n "$delay" ]; then
    # shellcheck disable=SC2086  # parent is two words
    tc -n "$ns" qdisc add dev "$dev" $parent handle 10: netem delay "$delay" limit 100000
  fi
}

rate_bps() {  # tc's rate words: 100mbit, 1gbit, 2.5gbit, 10gbit, 500kbit
  awk -v r="$1" 'BEGIN {
    n = r + 0; u = tolower(substr(r, length(n "") + 1))
    m = (u == "kbit") ? 1e3 : (u == "mbit") ? 1e6 : (u == "gbit") ? 1e9 : (u == "bit" || u == "") ? 1 : -1
    if (n <= 0 || m < 0) exit 1
    printf "%d\n", n * m }' || { echo "netns-cluster: cannot read the rate '$1' (e.g. 100mbit, 1gbit, 10gbit)" >&2; exit 2; }
}

shape() {
  need_root
  [ -f "$state/hosts" ] || { echo "netns-cluster: no cluster; run 'up N' first" >&2; exit 2; }
  local rate=${1:?shape needs a rate (e.g. 1gbit, or none)} rate0="" delay=""; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --rate0) rate0=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      *) echo "netns-cluster: shape: unknown option '$1'" >&2; exit 2 ;;
    esac
  done
  [ "$rate" = none ] || rate_bps "$rate" >/dev/null
  [ -z "$rate0" ] || [ "$rate0" = none ] || rate_bps "$rate0" >/dev/null
  if [ -n "$delay" ] && ! tc_has netem; then
    echo "netns-cluster: this kernel has no netem (CONFIG_NET_SCH_NETEM): cannot add --delay $delay" >&2
    exit 2
  fi
  local hosts i r
  hosts=$(cat "$state/hosts")
  for ((i = 0; i < hosts; i++)); do
    r=$rate; [ "$i" = 0 ] && [ -n "$rate0" ] && r=$rate0
    shape_dev "$prefix$i" eth0 "$r" "$delay"      # what the host sends
    shape_dev "$switch" "p$i" "$r" "$delay"       # what it receives
  done
  printf 'rate %s rate0 %s delay %s\n' "$rate" "${rate0:-$rate}" "${delay:-none}" > "$state/shape"
  echo "netns-cluster: links shaped: $(cat "$state/shape")" >&2
}

tc_has() {  # whether the kernel offers this queueing discipline (tried on a scratch namespace's loopback)
  local probe=${prefix}-tcprobe ok=1
  ip netns add "$probe" 2>/dev/null || return 1
  tc -n "$probe" qdisc add dev lo root "$1" >/dev/null 2>&1 || ok=0
  ip netns del "$probe"
  [ "$ok" = 1 ]
}

run() {
  need_root
  [ -f "$state/hostfile" ] || { echo "netns-cluster: no cluster; run 'up N' first" >&2; exit 2; }
  local ranks
  ranks=$(cat "$state/hosts")
  if [ "${1:-}" = -n ]; then ranks=$2; shift 2; fi
  [ "${1:-}" = -- ] && shift
  ip netns exec "${prefix}0" "$here/dips-run" -n "$ranks" --hostfile "$state/hostfile" \
    --mpirun-arg --map-by --mpirun-arg node \
    --mpirun-arg --mca --mpirun-arg btl --mpirun-arg self,tcp \
    --mpirun-arg --mca --mpirun-arg btl_tcp_if_include --mpirun-arg "$subnet.0/24" \
    --mpirun-arg --mca --mpirun-arg oob_tcp_if_include --mpirun-arg "$subnet.0/24" \
    --mpirun-arg --mca --mpirun-arg plm_rsh_agent --mpirun-arg "$state/rsh" \
    "$@"
}

counters() {  # "RX TX" bytes of a host's eth0
  need_root
  local host=${1:?counters needs a host number}
  ip netns exec "$prefix$host" cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/tx_bytes | paste -sd' '
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
  up) shift; up "${1:?how many hosts}" "${@:2}" ;;
  shape) shift; shape "$@" ;;
  run) shift; run "$@" ;;
  counters) counters "${2:-}" ;;
  cut) need_root; ip -n "$prefix${2:?host number}" link set eth0 down ;;
  kill) need_root; pids=$(host_pids "${2:?host number}"); [ -z "$pids" ] || kill -9 $pids ;;
  down) down ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
