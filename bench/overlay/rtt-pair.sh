#!/usr/bin/env bash
# Idle round trip of two router builds measured side by side: two labs at once, each two
# network namespaces joined by a veth with a router in each (inet peering, tun with offloads,
# as run.sh's router slot), a 2-s iperf3 transfer in each, then N pings 0.2 s apart in both
# labs at the same time, offset by 0.1 s. Both builds see the same phase of this VM, whose
# speed drifts by ±30 % over minutes, so the ratio of their median RTTs varies by a few per
# cent from run to run where ab.sh's sequential runs vary by tens. The builds swap labs every
# run. Prints each run's medians and the median of the per-run ratios B/A.
#
# Usage:  sudo bash bench/overlay/rtt-pair.sh RUNS ROUTER_A ROUTER_B
#   ROUTER_A/B: router executables (the same one twice gives the noise: ratios within ~±4 %)
# Env:    PINGS=60 (per lab and run)
# Needs:  root; apt-get install -y --no-install-recommends iperf3 iputils-ping
set -euo pipefail
[ $# -eq 3 ] || { sed -n 2,13p "$0" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, TUN devices)" >&2; exit 2; }
runs=$1; a=$2; b=$3; pings=${PINGS:-60}
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }; done
work=$(mktemp -d /tmp/router-rtt-pair.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  for ns in rpxa rpxb rpya rpyb; do ip netns del "$ns" 2>/dev/null || true; done
}
trap 'cleanup; rm -rf "$work"' EXIT

# lab L ROUTER: namespaces rpLa/rpLb over a veth, a router in each; overlay 10.66.1.1 -> 10.66.2.1
lab() {
  local l=$1 bin=$2 side peer address prefix
  ip netns add "rp${l}a"; ip netns add "rp${l}b"
  ip link add "rp${l}va" netns "rp${l}a" type veth peer name "rp${l}vb" netns "rp${l}b"
  ip -n "rp${l}a" addr add 10.200.0.1/24 dev "rp${l}va"; ip -n "rp${l}b" addr add 10.200.0.2/24 dev "rp${l}vb"
  for side in a b; do
    ip -n "rp${l}$side" link set lo up; ip -n "rp${l}$side" link set "rp${l}v$side" up
    if [ $side = a ]; then peer='"10.200.0.2:5860"'; address=10.66.1.1; prefix=10.66.1.0/24
    else peer=''; address=10.66.2.1; prefix=10.66.2.0/24; fi
    mkdir -p "$work/$l$side"
    cat >"$work/$l$side/config.json" <<JSON
{ "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock" },
  "Netmods": { "inet": { "Enabled": true, "Listen": ["0.0.0.0:5860"], "Peers": [$peer] },
    "tun": { "Enabled": true, "Name": "mesh0", "Mtu": 1500, "Offload": true, "Addresses": ["$address/24"], "Prefixes": ["$prefix"] } },
  "Logging": { "LogLevel": { "Default": "Warning" } } }
JSON
    (cd "$work/$l$side" && exec timeout 300 ip netns exec "rp${l}$side" "$bin" --config config.json >router.log 2>&1) &
    pids+=($!)
  done
  for _ in $(seq 60); do ip netns exec "rp${l}a" ping -c1 -W1 10.66.2.1 >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "lab $l: overlay not reachable; see $work/$l*/router.log" >&2; return 1
}

# warm L: a 2-s transfer, as in run.sh before its pings
warm() {
  ip netns exec "rp${1}b" timeout 20 iperf3 -s -1 >/dev/null 2>&1 & local server=$!
  sleep 0.3
  ip netns exec "rp${1}a" timeout 20 iperf3 -c 10.66.2.1 -t 2 >/dev/null 2>&1 || true
  wait $server 2>/dev/null || true
}

median() { sort -n | awk '{v[NR]=$1} END {if (NR == 0) print "FAIL"; else if (NR % 2) print v[(NR+1)/2]; else printf "%.4f\n", (v[NR/2]+v[NR/2+1])/2}'; }

ratios=()
for run in $(seq "$runs"); do
  if [ $((run % 2)) = 1 ]; then x=$a; y=$b; else x=$b; y=$a; fi
  lab x "$x"; lab y "$y"
  warm x; warm y; sleep 1
  { ip netns exec rpxa ping -c "$pings" -i 0.2 10.66.2.1 | grep -o 'time=[0-9.]*' | cut -d= -f2 >"$work/x.txt" || true; } &
  pinging=$!
  sleep 0.1
  ip netns exec rpya ping -c "$pings" -i 0.2 10.66.2.1 | grep -o 'time=[0-9.]*' | cut -d= -f2 >"$work/y.txt" || true
  wait $pinging || true
  mx=$(median <"$work/x.txt"); my=$(median <"$work/y.txt")
  cleanup
  if [ $((run % 2)) = 1 ]; then ma=$mx; mb=$my; else ma=$my; mb=$mx; fi
  ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')
  ratios+=("$ratio")
  echo "run $run: A median $ma ms, B median $mb ms, B/A $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {printf "B/A median %.3f over %d runs (%.3f..%.3f)\n", (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), NR, v[1], v[NR]}'
