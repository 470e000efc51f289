#!/usr/bin/env bash
# Overlay throughput of this router beside yggdrasil, tinc, nebula and fastd, measured in one
# run by the shared anchor script (../shared/bench/overlay-anchors/run.sh): two network
# namespaces joined by one veth, one TCP stream with iperf3 for T seconds, idle ping RTT, and
# the CPU seconds the daemons used per GB moved. This router runs in the script's "custom"
# slot, encryption on (it always is), over inet (TCP) peering, once per tun setting below.
# "reference" runs the reference tunnel (bench/ReferenceTunnel: TUN read, AES-256-GCM, TCP
# send and back, nothing else) in the same slot: the least such a tunnel costs on this machine.
#
# Usage:  sudo bash bench/overlay/run.sh [systems...]
#   systems: any of veth ygg tinc nebula fastd router router-nooffload router-udp reference
#            reference-nooffload (default: all)
# Env:    ANCHORS=path to overlay-anchors (default ../shared/bench/overlay-anchors beside the repo)
#         T, PINGS, SETTLE, RESULTS, KEEP as for the anchor script; MTU=1500 (the router's TUN MTU)
#         NOBUILD=1 to use the existing Release build; ROUTER=path to another router binary
#         (e.g. an out-of-tree build, to compare two commits back to back; implies NOBUILD);
#         LABEL=text put before the router's and the reference's row names (ab.sh uses it)
# Needs:  root; apt-get install -y --no-install-recommends iperf3 iputils-ping jq bsdextrautils
#         yggdrasil tinc nebula fastd (for the other systems)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ANCHORS=${ANCHORS:-$(cd "$repo/.." && pwd)/shared/bench/overlay-anchors}
MTU=${MTU:-1500}
[ -f "$ANCHORS/run.sh" ] || { echo "anchor script not found at $ANCHORS/run.sh (set ANCHORS)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, TUN devices)" >&2; exit 2; }

systems=("$@"); [ ${#systems[@]} -eq 0 ] && systems=(veth ygg tinc nebula fastd router router-nooffload router-udp reference reference-nooffload)

if [ -z "${NOBUILD:-}" ] && [ -z "${ROUTER:-}" ]; then
  dotnet build "$repo/router/Router.csproj" -c Release -nologo -clp:ErrorsOnly >&2
fi
if [ -z "${NOBUILD:-}" ] && [[ " ${systems[*]} " == *" reference"* ]]; then
  dotnet build "$repo/bench/ReferenceTunnel/ReferenceTunnel.csproj" -c Release -nologo -clp:ErrorsOnly >&2
fi
router=${ROUTER:-"$repo/router/bin/Release/net10.0/router"}
reference="$repo/bench/ReferenceTunnel/bin/Release/net10.0/reference-tunnel"
work=$(mktemp -d /tmp/router-overlay.XXXXXX)
trap 'rm -rf "$work"' EXIT

# config NAME NETMOD OFFLOAD PEER ADDRESS PREFIX: a router config in $work/NAME
config() {
  local name=$1 netmod=$2 offload=$3 peer=$4 address=$5 prefix=$6 port
  port=$([ "$netmod" = inet ] && echo 5860 || echo 5861)
  mkdir -p "$work/$name"
  cat >"$work/$name/config.json" <<JSON
{
  "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock" },
  "Netmods": {
    "$netmod": { "Enabled": true, "Listen": ["0.0.0.0:$port"], "Peers": [${peer:+\"$peer:$port\"}] $([ "$netmod" = udp ] && echo ', "Discovery": false') },
    "tun": { "Enabled": true, "Name": "mesh0", "Mtu": $MTU, "Offload": $offload,
             "Addresses": ["$address/24"], "Prefixes": ["$prefix"] }
  },
  "Logging": { "LogLevel": { "Default": "Warning" } }
}
JSON
  echo "$work/$name/config.json"
}

anchors=(); ours=()
for s in "${systems[@]}"; do
  case $s in router* | reference*) ours+=("$s") ;; *) anchors+=("$s") ;; esac
done

# The anchors (and veth) first, in one invocation of their script; then each router variant
# in the custom slot, appending to the same results file, so everything is one run.
RESULTS=${RESULTS:-$work/results.tsv}; export RESULTS
[ ${#anchors[@]} -gt 0 ] && bash "$ANCHORS/run.sh" "${anchors[@]}"
for variant in "${ours[@]}"; do
  if [[ $variant == reference* ]]; then
    flag=$([ "$variant" = reference-nooffload ] && echo --no-offload || true)
    CUSTOM_NAME="${LABEL:-}$variant" CUSTOM_DEV=ref0 CUSTOM_ADDR=10.66.2.1 \
      CUSTOM_B="$reference listen 5870 10.66.2.1/16 $flag" CUSTOM_A="$reference connect 10.200.0.2:5870 10.66.1.1/16 $flag" \
      bash "$ANCHORS/run.sh" custom
    continue
  fi
  netmod=inet; offload=true
  [ "$variant" = router-nooffload ] && offload=false
  [ "$variant" = router-udp ] && netmod=udp
  b=$(config "$variant-b" $netmod $offload "" 10.66.2.1 10.66.2.0/24)
  a=$(config "$variant-a" $netmod $offload 10.200.0.2 10.66.1.1 10.66.1.0/24)
  CUSTOM_NAME="${LABEL:-}$variant" CUSTOM_DEV=mesh0 CUSTOM_ADDR=10.66.2.1 \
    CUSTOM_B="$router --config $b" CUSTOM_A="$router --config $a" \
    bash "$ANCHORS/run.sh" custom
done
echo
echo "all rows of this run ($RESULTS):"
bash "$ANCHORS/summarize.sh" "$RESULTS"
