#!/usr/bin/env bash
# Two router builds compared in the overlay benchmark, in ABBA order: A, B, B, A per round, each
# in fresh namespaces (bench/overlay/run.sh with ROUTER=). This VM's speed drifts by ±30 % over
# minutes; a fixed A-then-B order turns that drift into a false difference, ABBA cancels a
# steady drift, and the paired ratios (B over the A run next to it) vary far less than the
# absolute numbers. Prints each build's medians and the median of the paired ratios.
#
# Usage:  sudo bash bench/overlay/ab.sh ROUNDS ROUTER_A ROUTER_B [variant]
#   ROUTER_A/B: router executables (e.g. router/bin/Release/net10.0/router and an out-of-tree
#               build of another commit: git worktree add + dotnet build --artifacts-path)
#   variant:    router (default), router-nooffload or router-udp
# Env:    RESULTS=file to keep the rows (default: a temporary file); T, PINGS, SETTLE as for run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 3 ] || { sed -n 2,15p "$0" >&2; exit 2; }
rounds=$1; a=$2; b=$3; variant=${4:-router}
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }; done
case $variant in router | router-nooffload | router-udp) ;; *) echo "unknown variant $variant" >&2; exit 2 ;; esac
results=${RESULTS:-$(mktemp /tmp/router-ab.XXXXXX.tsv)}; export RESULTS=$results

one() { LABEL="$1:" ROUTER=$2 bash "$here/run.sh" "$variant" >/dev/null; }
for _ in $(seq "$rounds"); do
  one A "$a"; one B "$b"; one B "$b"; one A "$a"
done

python3 - "$results" "$variant" "$a" "$b" <<'PY'
import sys, statistics as st
path, variant, a, b = sys.argv[1:5]
rows = [l.rstrip("\n").split("\t") for l in open(path)]
# Failed runs stay in the sequence (so the A B B A groups stay aligned) but give no numbers.
runs = [(r[1].split(":")[0], r) for r in rows if len(r) >= 9 and r[1] in (f"A:{variant}", f"B:{variant}")]
def num(r, i):
    return float(r[i]) if r[i] not in ("-", "", "FAIL") else None
failed = sum(1 for _, r in runs if r[3] == "FAIL")
print(f"{variant}: {len(runs)} runs, {failed} failed; A = {a}, B = {b}; medians (min..max)")
for label in "AB":
    v = [r for l, r in runs if l == label]
    for name, i, nd in (("Mbit/s", 3, 0), ("idle RTT ms", 4, 3), ("CPU-s per GB", 6, 2)):
        x = [num(r, i) for r in v if num(r, i) is not None]
        if x:
            print(f"  {label} {name:13} {st.median(x):.{nd}f} ({min(x):.{nd}f}..{max(x):.{nd}f})")
# Pairs: each B run with the A run beside it in A B B A.
ratios = {"Mbit/s": [], "CPU-s per GB": []}
seq = [r for _, r in runs]
labels = [l for l, _ in runs]
for k in range(0, len(seq) - 3, 4):
    if labels[k:k + 4] != ["A", "B", "B", "A"]:
        continue
    for ai, bi in ((k, k + 1), (k + 3, k + 2)):
        for name, i in (("Mbit/s", 3), ("CPU-s per GB", 6)):
            x, y = num(seq[ai], i), num(seq[bi], i)
            if x and y:
                ratios[name].append(y / x)
for name, v in ratios.items():
    if v:
        print(f"  B/A {name:13} median {st.median(v):.3f} over {len(v)} pairs ({min(v):.3f}..{max(v):.3f})")
print(f"rows: {path}")
PY
