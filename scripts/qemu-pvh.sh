#!/usr/bin/env bash
# qemu-pvh.sh — the guest kernel microvmm embeds boots through its PVH 32-bit
# entry in QEMU's microvm machine (TCG), with no microvmm around it: it must
# print its banner in plain x86 mode and say it found no microvmm hypercall
# device, then halt. Installs qemu-system-x86 with apt-get when missing.
# The command line (CMDLINE, through PVH's cmdline) adds the isolation check
# to the demo: two `vector`s fill every vector register the guest's CPUID
# allows, yield, and check every lane. The smp2 run gives QEMU two CPUs:
# the kernel finds them in the ACPI MADT, starts the second with
# INIT-SIPI-SIPI (docs/smp.md) and the same demo must pass there, with
# user code taking timer ticks on CPU 1. The noacpi run (-smp 2, no ACPI
# tables) checks the fallback: the kernel says why and runs on one CPU.
#
# Usage: scripts/qemu-pvh.sh            (exit 0 = all checks passed)
#
# Environment:
#   MICROVMM_BIN=PATH   use this microvmm (default: ${CARGO_TARGET_DIR:-<repo>/target}/release/microvmm,
#                       brought up to date with cargo build --release first)
#   QEMU_PVH_DIR=DIR    work dir for guest.elf and qemu.log (default: <repo>/target/qemu-pvh)
#   QEMU_PVH_TIMEOUT=S  QEMU time limit (default 30); QEMU is stopped as soon as
#                       the output is complete (DONE below), normally within a second
set -euo pipefail

# CHECKS: '*' | console | description | grep -E pattern ('!' prefix: must not match)
CHECKS='
*    | console | banner says mode x86                        | mode x86
*    | console | says there is no microvmm hypercall device  | no microvmm hypercall device
*    | console | guest halted                                | halted
*    | console | no panic                                    | !panic
*    | console | the demo runs: addrspace exits 0            | addrspace: exit 0
*    | console | protection: kernel read killed (U/S 0x5)    | snoop:0: killed by #PF err 0x5
*    | console | protection: heap execution killed (NX)      | snoop:3: killed by #PF err 0x15
*    | console | teardown returns every frame                | every frame returned
*    | console | vector (pid 1) says what it skipped and why  | \[1 vector\] vector: skipped
*    | console | vector (pid 1) kept its registers            | \[1 vector\] vector: .* kept this process.s values across [0-9]+ rounds
*    | console | vector (pid 2) kept its registers            | \[2 vector\] vector: .* kept this process.s values across [0-9]+ rounds
*    | console | no vector register corrupted                 | !vector: CORRUPTED
*    | console | fork: copy-on-write keeps the parent pages   | fork: child [0-9]+ wrote 4 of 1[56] shared heap pages and exited 0; parent.s pages intact: yes
*    | console | the LAPIC timer preempts (PVH finds a LAPIC) | scheduling timer \(250 Hz\)
pvh  | console | 4-level paging without LA57                 | 4-level paging
la57 | console | 5-level paging where the CPU offers LA57    | 5-level paging
pvh,la57,noacpi | console | one CPU: no other started         | !vCPUs:
smp2 | console | the ACPI MADT lists both CPUs               | CPUs from the ACPI MADT: 2 listed, using 2
smp2 | console | both CPUs online                            | vCPUs: 2 of 2 online
smp2 | console | user code ran on CPU 1 (its timer ticks)    | ticks in user mode, per CPU: 0: [0-9]+ 1: [1-9]
noacpi | console | no MADT: one CPU, and says why             | PVH: one CPU \(hvm_start_info gives no RSDP\)
'
# RUNS: name | QEMU -cpu ('-' = QEMU's default) | QEMU -smp | microvm options ('-': none)
RUNS='
pvh    | -            | 1 | -
la57   | qemu64,+la57 | 1 | -
smp2   | -            | 2 | -
noacpi | -            | 2 | acpi=off
'
# The guest's command line: the isolation check first (pids 1 and 2), then
# the default demo.
CMDLINE='vector vector addrspace heap stack snoop:0 snoop:1 snoop:2 snoop:3 spin:30 fork'
# QEMU is stopped once the console matches this: the guest halts for ever
# after its demo. (Not "no microvmm": the banner line already says that.)
DONE='halted'

SCRIPT_NAME=qemu-pvh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=${QEMU_PVH_DIR:-$REPO_ROOT/target/qemu-pvh}
mkdir -p "$W"
W=$(cd "$W" && pwd)

abort() {
  check_result pvh "$1" 1
  print_stage_times
  summary qemu-pvh || true
  exit 1
}

stage_begin "apt: qemu"
need_cmd qemu-system-x86_64 qemu-system-x86 || abort "install qemu-system-x86"
stage_end

if [ -n "${MICROVMM_BIN:-}" ]; then
  BIN=$MICROVMM_BIN
else
  stage_begin "cargo build"
  ensure_cargo || abort "cargo available"
  (cd "$REPO_ROOT" && cargo build --release --bin microvmm) || abort "cargo build --release"
  BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/microvmm
  stage_end
fi
[ -x "$BIN" ] || abort "microvmm binary $BIN exists"

stage_begin "emit guest"
rm -f "$W/guest.elf"
if "$BIN" --emit-guest "$W/guest.elf" && [ -s "$W/guest.elf" ]; then
  check_result pvh "microvmm --emit-guest wrote guest.elf ($(stat -c %s "$W/guest.elf") bytes)" 0
else
  abort "microvmm --emit-guest wrote guest.elf"
fi
stage_end

while IFS='|' read -r run cpu smp mopts; do
  run=${run//[[:space:]]/}
  cpu=${cpu//[[:space:]]/}
  smp=${smp//[[:space:]]/}
  mopts=${mopts//[[:space:]]/}
  machine=microvm
  [ "$mopts" = "-" ] || machine="microvm,$mopts"
  [ -n "$run" ] || continue
  cpu_args=()
  [ "$cpu" = "-" ] || cpu_args=(-cpu "$cpu")
  stage_begin "qemu microvm ($run)"
  qemu_ok=0
  run_qemu "$W/qemu-$run.log" "${QEMU_PVH_TIMEOUT:-30}" "$DONE" \
    qemu-system-x86_64 -accel tcg "${cpu_args[@]}" -smp "${smp:-1}" -machine "$machine" -nodefaults -nographic \
    -kernel "$W/guest.elf" -append "$CMDLINE" -serial stdio || qemu_ok=1
  stage_end
  clean_console "$W/qemu-$run.log" "$W/console-$run.txt"
  CHECK_SOURCE=([console]="$W/console-$run.txt")
  fails_before=$N_FAIL
  check_result "$run" "QEMU output complete ($QEMU_STATUS after $QEMU_SECS s)" $qemu_ok
  eval_checks "$run" "$CHECKS"
  if [ "$N_FAIL" != "$fails_before" ]; then
    log "tail of $W/console-$run.txt:"
    tail -n 30 "$W/console-$run.txt" | sed "s/^/  $run| /"
  else
    grep -E "microvmm guest kernel|PVH: |vCPUs:|ticks in user mode|all processes done|\] vector: " "$W/console-$run.txt" |
      sed "s/^/  $run| /"
  fi
done <<< "$RUNS"

print_stage_times
summary qemu-pvh
