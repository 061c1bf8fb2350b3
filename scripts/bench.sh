#!/usr/bin/env bash
# Benchmarks, each printed with a baseline measured in the same invocation.
#   1. microvmm wall time on the embedded demo, median of N runs, against a
#      minimal guest run (one small process) as the baseline.
#   2. Guest-measured costs (the `bench` program): null syscall, demand-paged
#      fault, process switch.
#   3. The software walker: translations per second against a plain
#      page-table-entry read (vmm/examples/walk_bench.rs).
#   4. A full --pages report of a 1 GiB guest with every page touched,
#      against the same run without the report.
# Usage: scripts/bench.sh [runs]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
cargo build --release --quiet
B=${CARGO_TARGET_DIR:-target}/release/microvmm

median_ms() { # command... -> median wall time in ms over N runs
  local t=()
  for _ in $(seq "$N"); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed (exit $?); not timing a failed run" >&2; exit 1; }
    e=$(date +%s%N)
    t+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}

echo "== machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; kernel $(uname -r)"
$B --cmdline addrspace -q 2>/dev/null | head -1

echo "== 1. microvmm wall time, median of $N runs"
demo=$(median_ms $B -q)
base=$(median_ms $B --cmdline addrspace -q)
echo "demo (8 processes, incl. 300 ms of spin): ${demo} ms; baseline (addrspace only): ${base} ms; ratio $(awk "BEGIN{printf \"%.2f\", $demo/$base}")"
$B --json /tmp/microvmm-bench.json -q >/dev/null 2>&1 || true
python3 - <<'PY' 2>/dev/null || true
import json; g = json.load(open('/tmp/microvmm-bench.json'))['guest']
print(f"guest boot (TSC at _start -> banner): {g['boot_us']:.0f} us; first console byte {g['first_output_us']:.0f} us after KVM_RUN; run {g['run_ms']:.1f} ms; exits {g['exits']['total']}")
PY

echo "== 2. guest-measured costs (mean over the loop; three runs)"
for _ in 1 2 3; do
  $B --cmdline bench -q 2>/dev/null | grep '\] bench:' | sed 's/^\[[^]]*\] //'
  $B --cmdline "bench:1 bench:1" -q 2>/dev/null | grep '\] bench:' | head -1 | sed 's/^\[[^]]*\] //'
done

echo "== 3. software walker"
cargo run --release --quiet --example walk_bench

echo "== 4. 1 GiB guest, 960 MiB touched: report cost"
s=$(date +%s%N); $B --mem 1G --timeout 120 --cmdline touch:960 -q >/dev/null; e=$(date +%s%N)
plain=$(( (e - s) / 1000000 ))
s=$(date +%s%N); $B --mem 1G --timeout 120 --cmdline touch:960 --pages --json /tmp/microvmm-1g.json -q >/dev/null; e=$(date +%s%N)
full=$(( (e - s) / 1000000 ))
echo "without report: ${plain} ms; with --pages --json (every page, $(du -m /tmp/microvmm-1g.json | cut -f1) MB JSON): ${full} ms; report adds $((full - plain)) ms, ratio $(awk "BEGIN{printf \"%.2f\", $full/$plain}")"
