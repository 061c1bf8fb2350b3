#!/usr/bin/env bash
# TLB reach, measured: tests/programs/tlb.c (pointer chasing, one access
# per 4 KiB page, working sets from 16 KiB to MAX_MIB) run natively on the
# host as the reference, then under microvmm --run with host backing
# 4k, thp and hugetlb (when the hugetlb pool is large enough; said when it
# is not) x guest 4 KiB / 2 MiB pages (madvise(MADV_HUGEPAGE) in the guest).
# Writes a table to stdout and target/tlb/results.md, and a line chart
# (access cost vs working set, log x) to target/tlb/chart.svg.
# Usage: scripts/tlb.sh [MAX_MIB] [page|line]   (default 1024 page)
# Timings on a busy, shared machine are noisy: compare the shapes.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${1:-1024}
STRIDE=${2:-page}
# Guest RAM: the working set, the permutation array, page tables, the
# kernel, and slack.
MEM=$(( MAX + 512 ))M
OUT=target/tlb
mkdir -p "$OUT"
cargo build --release --quiet
B=${CARGO_TARGET_DIR:-target}/release/microvmm
gcc -O2 -static -o "$OUT/tlb" tests/programs/tlb.c
TIMEOUT=$(( 120 + MAX / 4 ))

runs=()
notes=()
run_native() { # GUEST_PAGES LABEL
  "$OUT/tlb" "$MAX" "$STRIDE" "$1" > "$OUT/$2.txt"
  runs+=("$2")
}
run_vm() { # BACKING GUEST_PAGES LABEL
  local log="$OUT/$3.log"
  local rc=0
  "$B" --mem "$MEM" --backing "$1" --timeout "$TIMEOUT" -q \
    --run "$OUT/tlb $MAX $STRIDE $2" >"$log" 2>&1 || rc=$?
  # A run that measured every set counts even when microvmm exits 1 for
  # its report (a 1 GiB chase in random order maps more scattered runs of
  # frames than the report lists: a finding, not a failed measurement).
  if grep -q "ws_kib=$(( MAX * 1024 )) " "$log"; then
    sed -n 's/^\[[0-9]* [^]]*\] //p' "$log" > "$OUT/$3.txt"
    runs+=("$3")
    [ "$rc" = 0 ] || notes+=("$3: microvmm exit $rc ($(tail -1 "$log")), e.g. more mapped runs than the report lists: the measurement is complete")
  else
    notes+=("$3: not measured: $(tail -1 "$log")")
  fi
}

echo "tlb.sh: MAX ${MAX} MiB, stride ${STRIDE}, guest RAM ${MEM}; host THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)" >&2
run_native 4k native-4k
run_native 2m native-thp
for backing in 4k thp hugetlb; do
  if [ "$backing" = hugetlb ]; then
    need=$(( (MAX + 512) / 2 ))
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    if [ "${free:-0}" -lt "$need" ]; then
      notes+=("host hugetlb: not measured: the pool has ${free:-0} free 2 MiB pages, ${need} needed (sysctl vm.nr_hugepages=$need)")
      continue
    fi
  fi
  for g in 4k 2m; do
    run_vm "$backing" "$g" "host-${backing}-guest-${g}"
  done
done

python3 scripts/tlb_chart.py "$OUT" "${runs[@]}" > "$OUT/results.md"
{
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(uname -r), KVM: $("$B" --cmdline addrspace -q 2>&1 | grep -m1 -o 'kvm flavour [a-z-]*' || echo unknown); load average $(cut -d' ' -f1-3 /proc/loadavg)."
  for n in "${notes[@]+"${notes[@]}"}"; do echo "- $n"; done
} >> "$OUT/results.md"
cat "$OUT/results.md"
echo "tlb.sh: wrote $OUT/results.md and $OUT/chart.svg" >&2
