#!/usr/bin/env bash
# Compare the text, JSON and SVG outputs of two microvmm binaries, for a
# restructuring that must not change them: scripts/compare-outputs.sh OLD NEW.
# Runs each demo variant with --no-timer (cooperative scheduling makes the
# guest's frame allocation, and so every GPA, deterministic) and without
# CAP_SYS_ADMIN (no HPAs, which move run to run); masks HVAs (ASLR) and
# timings. Prints "identical" or the first differing lines per output.
set -uo pipefail
declare -A bin=([old]=$1 [new]=$2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mask() {
  sed -E 's/0x7[ef][0-9a-f]{10}/HVA/g; s/booted in [0-9]+ us/booted in N us/;
    s/boot [0-9?]+ us, run [0-9.]+ ms, [0-9]+ exits \([0-9]+ hypercalls, [0-9]+ serial\)/boot N/;
    s/"(boot_us|first_output_us|run_ms|total|hypercall|serial|other|peak_rss_kib)": [0-9.e+-]+/"\1": N/;
    s/\(([0-9]+) loops\); preempted [0-9]+ times/(N loops); preempted N times/;
    s/[0-9]+ cycles/N cycles/g; s/[0-9.]+ us\b/N us/g; s/after [0-9]+ switches/after N switches/'
}
status=0
for args in "" "--pages" "--walk 0x400000" "--dirty-log" "--cmdline=writek"; do
  read -ra argv <<<"$args" # "--walk 0x400000" is two words
  for b in old new; do
    setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin "${bin[$b]}" "${argv[@]}" --no-timer \
      --json "$tmp/$b.json" --svg "$tmp/$b.svg" >"$tmp/$b.txt" 2>"$tmp/$b.err"
    echo "exit $?" >>"$tmp/$b.txt"
  done
  for out in txt json svg; do
    if diff <(mask <"$tmp/old.$out") <(mask <"$tmp/new.$out") >"$tmp/diff"; then
      echo "[$args] $out: identical"
    else
      echo "[$args] $out: differs"; head -20 "$tmp/diff"; status=1
    fi
  done
done
exit $status
