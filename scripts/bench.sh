#!/usr/bin/env bash
# Benchmarks with their baselines measured in the same invocation, runs
# interleaved (A, B, A, B, ...), medians with min/max and ratios:
#   1. whole process: the raw-KVM floor (bench/floor, kvm-ioctls only) vs
#      microvmm --cmdline addrspace, the demo without spin, the demo, --run
#      of a static C program, that program natively and under qemu-x86_64
#      (BENCH_BEFORE=PATH: addrspace, the demo and --run for another build);
#   2. time to the guest's first output line: floor, microvmm, QEMU microvm
#      (TCG; KVM when it boots here) on --emit-guest;
#   3. exit round trip: N port exits in microvmm's guest (bench:2) vs the floor;
#   4. guest-measured null syscall, demand fault, process switch;
#   5. the software walker (4K and 2M pages) vs a plain PTE read;
#   6. a 1 GiB guest, every page touched: plain, --pages --json, --verify all;
#   7. peak RSS (VmHWM) minus guest RAM resident;
#   8. 1, 4, 16, 64 concurrent VMs: total wall, per VM, failures;
#   9. fork + exit + wait of a process with 16 MiB touched: guest vs native;
#  10. --cpus 1 vs 2: the demo and threads.c; one TLB shootdown's round trip.
#  11. the demo with vs without --trace, at three --kvm-sample-us periods,
#      and VM exits per guest page fault from KVM's counters (bench_kvm.py);
#  12. every VM exit of a run by kind from KVM's counters (addrspace, the demo
#      without spin, touch:16, --run ostep), and exits per guest fault and per
#      system call and per write of a line (bench_exits.py; BENCH_BEFORE=PATH: the same for another
#      microvmm, interleaved: before/after).
# Table on stdout, everything in target/bench/results.json. Timings are
# never asserted. Installs QEMU with apt-get when missing (skipped if that fails).
# Usage: scripts/bench.sh [runs]   (default 10 interleaved rounds)
# MICROVMM_BIN=PATH benchmarks that microvmm (e.g. an older build) instead.
# BENCH_SECTIONS="1 4" runs only those sections (numbers as above).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$T/bench
mkdir -p "$OUT"
cargo build --release --quiet -p microvmm -p floor --bins --example walk_bench
if ! command -v qemu-system-x86_64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null 2>&1 ||
    echo "bench: could not install qemu-system-x86; QEMU rows skipped" >&2
fi
if ! command -v qemu-x86_64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user >/dev/null 2>&1 ||
    echo "bench: could not install qemu-user; its row skipped" >&2
fi
gcc -O2 -static -o "$OUT/ostep" tests/programs/ostep.c
gcc -O2 -static -o "$OUT/forkbench" tests/programs/forkbench.c
gcc -O2 -static -o "$OUT/threads" tests/programs/threads.c
gcc -O2 -static -o "$OUT/shootdown" tests/programs/shootdown.c
B=${MICROVMM_BIN:-$T/release/microvmm}
"$B" --emit-guest "$OUT/guest.elf"
# A static build (scripts/nested-svm.sh makes one) is compared when it is
# not older than the binary under test.
S=$T/static/x86_64-unknown-linux-gnu/release/microvmm
if [ -x "$S" ] && [ ! "$S" -ot "$B" ]; then export BENCH_MICROVMM_STATIC=$S; fi
BENCH_MICROVMM=$B BENCH_FLOOR=$T/release/floor BENCH_OSTEP=$OUT/ostep BENCH_FORKBENCH=$OUT/forkbench \
  BENCH_THREADS=$OUT/threads BENCH_SHOOTDOWN=$OUT/shootdown \
  BENCH_GUEST_ELF=$OUT/guest.elf BENCH_WALK=$T/release/examples/walk_bench BENCH_OUT=$OUT BENCH_RUNS=${1:-10} \
  BENCH_QEMU=$(command -v qemu-system-x86_64 || true) BENCH_QEMU_USER=$(command -v qemu-x86_64 || true) \
  python3 scripts/bench.py
