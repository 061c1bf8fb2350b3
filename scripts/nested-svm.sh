#!/usr/bin/env bash
# nested-svm.sh — microvmm on plain x86 semantics: real AMD SVM inside QEMU TCG.
#
# QEMU (TCG) emulates an AMD CPU with SVM; Debian's own kernel boots in it from
# a busybox initramfs, loads kvm_amd (npt=1: two-dimensional walks; npt=0:
# shadow paging), and runs a static microvmm on that KVM. One run per entry in
# RUNS below; each run is judged by the CHECKS below. Runs as root on Debian
# (apt-get installs QEMU and friends; the kernel and busybox packages are only
# downloaded and unpacked, never installed).
# After the demo each run also runs the isolation check: three copies of
# tests/programs/vector.c (built static here, mode auto: what the guest's
# CPUID and XCR0 allow) fill every vector register, yield, get interrupted,
# and compare every lane.
#
# Usage: scripts/nested-svm.sh            (from anywhere; exit 0 = all checks passed)
#
# Environment:
#   MICROVMM_BIN=PATH        use this prebuilt static microvmm (skips the cargo build)
#   NESTED_SVM_DIR=DIR       work dir: download cache, initramfs, QEMU logs
#                            (default: <repo>/target/nested-svm)
#   NESTED_SVM_TARGET_DIR=D  CARGO_TARGET_DIR of the static build
#                            (default: ${CARGO_TARGET_DIR:-<repo>/target}/static)
#   NESTED_SVM_RUNS="a b"    only these runs (names from RUNS; default: all)
#   NESTED_SVM_TIMEOUT=SECS  per QEMU run (default 600)
#   NESTED_SVM_MEM=SIZE      QEMU -m (default 1G)
#   NESTED_SVM_ARGS="..."    microvmm arguments inside (default: --timeout 120 --json /report.json;
#                            keep --json /report.json or the json checks fail)
#   NESTED_SVM_KERNEL_PKG=P  Debian kernel package (default: what linux-image-amd64 depends on)
#   NESTED_SVM_VERBOSE=1     print every run's whole console instead of the highlights
#
# Files per run in $NESTED_SVM_DIR/runs/<run>/: qemu.log (raw serial),
# console.txt (CRs and escapes removed), report.json (the report microvmm wrote).
set -euo pipefail

# ---- what to run and what to expect -------------------------------------------
# RUNS: name | QEMU -cpu | kvm_amd npt parameter | CPUs (QEMU -smp, and every
# microvmm run inside gets --cpus with the same number)
RUNS='
npt    | EPYC        | 1 | 1
shadow | qemu64,+svm | 0 | 1
la57   | EPYC,+la57  | 1 | 1
smp2   | EPYC        | 1 | 2
'
# CHECKS: runs ('*' or comma list) | source (console|json) | description | grep -E pattern
# A pattern starting with '!' must NOT match. console = the guest Linux serial
# console (microvmm's stdout/stderr included); json = microvmm's --json report.
CHECKS='
*      | console | kvm modules loaded (irqbypass kvm ccp kvm_amd) | ^nested-svm: loaded irqbypass kvm ccp kvm_amd$
npt,la57,smp2 | console | kvm_amd runs with npt=1                        | ^nested-svm: kvm_amd npt=Y$
shadow | console | kvm_amd runs with npt=0                        | ^nested-svm: kvm_amd npt=N$
*      | console | /dev/kvm present                               | ^nested-svm: /dev/kvm present$
*      | console | microvmm exit code 0                           | ^nested-svm: microvmm exit 0$
npt,la57,smp2 | console | host line says kvm flavour svm-npt             | ^host: .*kvm flavour svm-npt
shadow | console | host line says kvm flavour shadow              | ^host: .*kvm flavour shadow
*      | console | guest banner says mode x86                     | mode x86
*      | json    | JSON report written                            | [{]
npt,la57,smp2 | json    | report says kvm_flavour svm-npt                | "kvm_flavour": *"svm-npt"
shadow | json    | report says kvm_flavour shadow                 | "kvm_flavour": *"shadow"
*      | console | no kernel panic or oops                        | !Kernel panic|Oops|BUG:
*      | console | guest schedules on the LAPIC timer             | scheduling timer
smp2   | console | both vCPUs come up                             | \[kernel\] vCPUs: 2 of 2 online
smp2   | json    | the report has two vCPUs                       | "index": *1
*      | console | addrspace exits 0                              | pid [0-9]+ addrspace: exit 0
*      | console | heap, stack, spin exit 0                       | pid [0-9]+ spin:[0-9]+: exit 0
*      | console | heap faults equal touched pages                | [0-9]+ page faults for [0-9]+ touched pages$
*      | console | stack faults equal pages spanned               | [0-9]+ stack faults for [0-9]+ pages spanned$
*      | console | no fault-count mismatch                        | !MISMATCH
*      | console | snoop:0 (read kernel) killed: U/S fault 0x5    | snoop:0: killed by #PF err 0x5 at 0xffffffff80100000
*      | console | snoop:1 (other heap) killed: not present 0x4   | snoop:1: killed by #PF err 0x4
*      | console | snoop:2 (write code) killed: 0x7               | snoop:2: killed by #PF err 0x7
*      | console | snoop:3 (execute heap) killed: NX fault 0x15    | snoop:3: killed by #PF err 0x15
*      | console | teardown returns every frame                   | every frame returned
*      | console | whereis answers with GPA and HPA               | code : GVA 0x[0-9a-f]+ -> GPA 0x[0-9a-f]+ -> HPA 0x
*      | console | zero KVM_TRANSLATE mismatches                  | no errors: every checked page agrees with KVM_TRANSLATE
npt,smp2 | json    | 2D walk: 24 memory references (4-level/4-level) | "hw_refs": 24
shadow | json    | shadow walk: 4 memory references               | "hw_refs": 4
npt,shadow,smp2 | console | 4-level paging (no LA57 offered)          | 4-level paging
la57   | console | 5-level paging where LA57 is offered           | 5-level paging
la57   | json    | 2D walk: 5-level guest on 5-level NPT: 5*(5+1)+5 | "hw_refs": 35
*      | json    | pattern read back through GPA and HVA          | "ok": true
*      | json    | no errors in the report                        | "errors": \[\]
*      | console | vector 1 says what it skipped and why          | vector 1: skipped
*      | console | vector 1 saw only its own registers            | vector 1: mode .* 0 with foreign register contents$
*      | console | vector 2 saw only its own registers            | vector 2: mode .* 0 with foreign register contents$
*      | console | vector 3 saw only its own registers            | vector 3: mode .* 0 with foreign register contents$
*      | console | the isolation check exits 0                    | ^nested-svm: vector exit 0$
*      | console | fork: copy-on-write shares, then copies         | cow: same frame before the write: yes; another after: yes
*      | console | fork: the parent keeps its pages             | cow: parent.s pages intact after the child wrote: yes
*      | console | fork: a pipe between parent and child           | pipes: cloexec set, poll 1, read 204800 bytes, 0 wrong, child status 0, EPIPE yes
*      | console | fork: a fork bomb ends in EAGAIN                | forkbomb: made [0-9]+, reaped [0-9]+, fork failed with Resource temporarily unavailable
*      | console | fork: fork + wait                               | parent of pid:[0-9]+ \(rc_wait pid:[0-9]+, exited 1, status 0\)
*      | console | the fork programs exit 0                        | ^nested-svm: fork exit 0$
*      | console | fork: MAP_SHARED memory stays shared            | ^sharedmem: counter 4000, file says .written by the child.$
*      | console | fork (built in): shared, then a copy           | fork: child.s first heap page before its write: the same frame as its parent.s; after: a copy of its own
*      | console | the fork bomb exits 0                           | ^nested-svm: forkbomb exit 0$
*      | console | files: every RAM file system check passes       | ^ramfs: all ok$
*      | console | files: file mappings share the file frames     | ^filemap: all ok$
*      | console | the file programs exit 0                        | ^nested-svm: ramfs exit 0$
*      | console | shell: a pipeline through fork, exec and a pipe | ^shell: 100 \[hi\] 12$
*      | console | shell: busybox sh exits 0                       | ^nested-svm: shell exit 0$
*      | console | threads: a mutex-protected sum of 8 threads     | sum: counter 160000 \(want 160000\), joined values 140, main tls 7
*      | console | threads: condition variable ping-pong           | condvar: 1000 rounds
*      | console | threads: producer and consumers                 | producer/consumers: 4501500 \(want 4501500\)
*      | console | threads: futex errors and timeouts              | futex: value differs Resource temporarily unavailable; timeout Connection timed out
*      | console | threads: timed waits on the wall clock          | futex: sem_timedwait on the wall clock [A-Za-z ]+ after 2 ms or more: yes
*      | console | threads: futex requeue                          | futex: cmp_requeue woke or moved 3, stale compare Resource temporarily unavailable, woken on the second word 2, waits returned 0
*      | console | threads: a thread bomb ends in EAGAIN           | bomb: pthread_create failed with Resource temporarily unavailable after more than 10 threads
*      | console | the thread programs exit 0                      | ^nested-svm: threads exit 0$
*      | console | threads unmap what another thread touched       | shootdown: 64 rounds of 4 pages unmapped, 0 wrong
smp2   | console | that is a TLB shootdown on the other vCPU       | TLB shootdowns: [1-9]
*      | console | the shootdown program exits 0                   | ^nested-svm: shootdown exit 0$
'
INIT_ARGS=${NESTED_SVM_ARGS:---timeout 120 --json /report.json}
# The isolation check: three copies with their own seeds, and a CPU burner.
VECTOR_ARGS="--timeout 120 -q --cmdline spin:300 --run '/vector 1' --run '/vector 2' --run '/vector 3'"
# Address spaces copied: fork with copy-on-write, pipes, wait, a fork bomb.
FORK_ARGS="--timeout 120 -q --cmdline fork --run /cow --run /pipes --run '/procapi 2' --run /sharedmem"
# Files: the RAM file system and file mappings (tests/ramfs.rs).
RAMFS_ARGS="--timeout 120 -q --run /ramfs --run /filemap"
# Threads and futexes on the one vCPU (tests/threads.rs), a thread bomb too.
THREADS_ARGS="--timeout 120 -q --run /threads --run '/threads bomb'"
# -------------------------------------------------------------------------------

SCRIPT_NAME=nested-svm
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=${NESTED_SVM_DIR:-$REPO_ROOT/target/nested-svm}
QEMU_TIMEOUT=${NESTED_SVM_TIMEOUT:-600}
QEMU_MEM=${NESTED_SVM_MEM:-1G}
STATIC_TARGET_DIR=${NESTED_SVM_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/static}
TRIPLE=x86_64-unknown-linux-gnu
mkdir -p "$W/debs" "$W/runs"
W=$(cd "$W" && pwd)

# abort STAGE: a stage the runs depend on failed; report it and stop.
abort() {
  check_result setup "$1" 1
  print_stage_times
  summary nested-svm || true
  exit 1
}

# ---- 1. host tools ------------------------------------------------------------
stage_begin "apt: host tools"
need_cmd qemu-system-x86_64 qemu-system-x86 || abort "install qemu-system-x86"
need_cmd dpkg-deb dpkg || abort "dpkg-deb available"
need_cmd gzip gzip || abort "install gzip"
need_cmd gcc gcc || abort "install gcc (for tests/programs/vector.c)"
stage_end

# ---- 2. Debian kernel + busybox, downloaded once into $W/debs -----------------
stage_begin "apt: kernel + busybox debs"
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
KPKG=${NESTED_SVM_KERNEL_PKG:-$(kernel_pkg)}
if [ -z "$KPKG" ]; then # fresh machine: no package lists yet
  apt_update_once || abort "apt-get update"
  KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || abort "find the kernel package behind linux-image-amd64"
KVER=${KPKG#linux-image-}
log "kernel package $KPKG"

# fetch_deb PKG: path of PKG's .deb in the cache, downloading it when absent.
fetch_deb() {
  local deb
  deb=$(find "$W/debs" -maxdepth 1 -name "${1}_*.deb" | sort | tail -n 1)
  if [ -z "$deb" ]; then
    # apt-get download runs as _apt when it can; as root into a root-owned dir
    # it warns "unsandboxed", which is harmless.
    (cd "$W/debs" && apt_get download -qq "$1" 2>&1 | grep -v 'unsandboxed' >&2) || true
    deb=$(find "$W/debs" -maxdepth 1 -name "${1}_*.deb" | sort | tail -n 1)
  fi
  [ -n "$deb" ] && echo "$deb"
}
KDEB=$(fetch_deb "$KPKG") || { apt_update_once && KDEB=$(fetch_deb "$KPKG"); } ||
  abort "download $KPKG"
BDEB=$(fetch_deb busybox-static) || abort "download busybox-static"

# Unpack only the kernel image and the four modules; decompress modules because
# busybox insmod takes plain .ko files.
KDIR=$W/kernel-$KVER
if [ ! -s "$KDIR/ok" ]; then
  rm -rf "$KDIR" "$W/x"
  mkdir -p "$KDIR" "$W/x"
  M=./lib/modules/$KVER/kernel
  dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$W/x" --wildcards "./boot/vmlinuz-$KVER" \
    "$M/virt/lib/irqbypass.ko*" "$M/arch/x86/kvm/kvm.ko*" "$M/arch/x86/kvm/kvm-amd.ko*" \
    "$M/drivers/crypto/ccp/ccp.ko*" || abort "unpack $KDEB"
  cp "$W/x/boot/vmlinuz-$KVER" "$KDIR/vmlinuz"
  for f in "$W/x/$M"/virt/lib/irqbypass.ko* "$W/x/$M"/arch/x86/kvm/kvm.ko* \
    "$W/x/$M"/arch/x86/kvm/kvm-amd.ko* "$W/x/$M"/drivers/crypto/ccp/ccp.ko*; do
    b=$(basename "$f")
    case $f in
      *.xz) need_cmd xz xz-utils && xz -dc "$f" >"$KDIR/${b%.xz}" ;;
      *.zst) need_cmd zstd zstd && zstd -dcq "$f" >"$KDIR/${b%.zst}" ;;
      *) cp "$f" "$KDIR/$b" ;;
    esac || abort "decompress $b"
  done
  for m in irqbypass kvm ccp kvm-amd; do
    [ -s "$KDIR/$m.ko" ] || abort "module $m.ko in $KPKG"
  done
  rm -rf "$W/x"
  echo "$KPKG" >"$KDIR/ok"
fi
if [ ! -x "$W/busybox" ]; then
  if ! dpkg-deb --fsys-tarfile "$BDEB" | tar -x -O ./bin/busybox >"$W/busybox.tmp"; then
    abort "unpack busybox"
  fi
  chmod +x "$W/busybox.tmp"
  mv "$W/busybox.tmp" "$W/busybox"
fi
stage_end

# ---- 3. static microvmm -------------------------------------------------------
if [ -n "${MICROVMM_BIN:-}" ]; then
  BIN=$MICROVMM_BIN
  [ -x "$BIN" ] || abort "MICROVMM_BIN=$BIN is an executable"
  log "using prebuilt $BIN"
else
  stage_begin "cargo build (static)"
  ensure_cargo || abort "cargo available"
  # The target-specific variable (not RUSTFLAGS) links only the target artifacts
  # statically: build scripts stay untouched, and a nested cargo that builds the
  # guest for another target does not inherit the flag.
  (cd "$REPO_ROOT" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    CARGO_TARGET_DIR="$STATIC_TARGET_DIR" \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --bin microvmm --target "$TRIPLE") || abort "cargo build (static)"
  BIN=$STATIC_TARGET_DIR/$TRIPLE/release/microvmm
  stage_end
fi
# A static binary has no interpreter: ldd says "not a dynamic executable"
# (static) or "statically linked" (static-pie).
if ldd "$BIN" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
  check_result setup "microvmm binary is static" 0
else
  ldd "$BIN" >&2 || true
  abort "microvmm binary is static"
fi

# ---- 4. initramfs -------------------------------------------------------------
stage_begin "vector.c (gcc -static)"
gcc -O2 -static -o "$W/vector" "$REPO_ROOT/tests/programs/vector.c" ||
  abort "gcc -static tests/programs/vector.c"
for p in cow pipes forkbomb procapi ramfs filemap sharedmem threads shootdown; do
  gcc -O2 -static -o "$W/$p" "$REPO_ROOT/tests/programs/$p.c" ||
    abort "gcc -static tests/programs/$p.c"
done
stage_end
stage_begin "initramfs"
R=$W/initramfs
rm -rf "$R"
mkdir -p "$R"/{bin,proc,sys,dev,lib/modules}
cp "$W/busybox" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
for m in irqbypass kvm ccp kvm-amd; do cp "$KDIR/$m.ko" "$R/lib/modules/"; done
cp "$BIN" "$R/microvmm"
cp "$W/vector" "$R/vector"
for p in cow pipes forkbomb procapi ramfs filemap sharedmem threads shootdown; do cp "$W/$p" "$R/$p"; done
# A tree for --files: busybox as its applets, and a file (tests/shell.rs).
mkdir -p "$R/tree/bin"
cp "$W/busybox" "$R/tree/bin/busybox"
for a in sh seq wc cat echo; do ln -s busybox "$R/tree/bin/$a"; done
printf 'twelve bytes' >"$R/tree/f"
# shellcheck disable=SC2016 # expanded by the guest's shell, not here
printf '%s\n' 'echo shell: $(seq 1 100 | wc -l) [$(echo hi)] $(cat /f | wc -c)' >"$R/tree/t.sh"
# The kvm_amd npt value comes from the kernel command line (nsvm_npt=N), so
# one initramfs serves every run. Lines starting "nested-svm:" are for CHECKS.
cat >"$R/init" <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
npt=1
cpus=1
for w in \$(cat /proc/cmdline); do
  case \$w in nsvm_npt=*) npt=\${w#nsvm_npt=} ;; nsvm_cpus=*) cpus=\${w#nsvm_cpus=} ;; esac
done
# Every microvmm run below gets --cpus (the function shadows the file).
microvmm() { /microvmm --cpus \$cpus "\$@"; }
echo "nested-svm: cpu \$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), svm flags \$(grep -c -w svm /proc/cpuinfo), npt flags \$(grep -c -w npt /proc/cpuinfo)"
loaded=""
for m in irqbypass kvm ccp; do
  insmod /lib/modules/\$m.ko && loaded="\$loaded \$m"
done
insmod /lib/modules/kvm-amd.ko npt=\$npt && loaded="\$loaded kvm_amd"
echo "nested-svm: loaded\$loaded"
echo "nested-svm: kvm_amd npt=\$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null || echo missing)"
[ -c /dev/kvm ] && echo "nested-svm: /dev/kvm present" || echo "nested-svm: /dev/kvm missing"
echo "nested-svm: running /microvmm $INIT_ARGS"
t0=\$(cut -d' ' -f1 /proc/uptime)
microvmm $INIT_ARGS
rc=\$?
echo "nested-svm: microvmm exit \$rc"
echo "nested-svm: microvmm took \$(awk -v a=\$t0 -v b=\$(cut -d' ' -f1 /proc/uptime) 'BEGIN { print b - a }') s"
if [ -f /report.json ]; then
  echo "===== nested-svm json begin ====="
  cat /report.json
  echo
  echo "===== nested-svm json end ====="
fi
echo "nested-svm: running /microvmm $VECTOR_ARGS"
microvmm $VECTOR_ARGS
echo "nested-svm: vector exit \$?"
echo "nested-svm: running /microvmm $FORK_ARGS"
microvmm $FORK_ARGS
echo "nested-svm: fork exit \$?"
microvmm --timeout 120 -q --run /forkbomb
echo "nested-svm: forkbomb exit \$?"
echo "nested-svm: running /microvmm $RAMFS_ARGS"
microvmm $RAMFS_ARGS
echo "nested-svm: ramfs exit \$?"
microvmm --timeout 120 -q --files /tree --run '/bin/busybox sh /t.sh'
echo "nested-svm: shell exit \$?"
echo "nested-svm: running /microvmm $THREADS_ARGS"
microvmm $THREADS_ARGS
echo "nested-svm: threads exit \$?"
microvmm --timeout 120 --run /shootdown >/shootdown.txt 2>&1
echo "nested-svm: shootdown exit \$?"
grep -E '^shootdown:|TLB shootdowns' /shootdown.txt
echo "nested-svm: guest uptime \$(cut -d' ' -f1 /proc/uptime) s"
poweroff -f
INIT
chmod +x "$R/init"
(cd "$R" && find . | "$W/busybox" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 >"$W/initrd.gz") ||
  abort "build initramfs"
log "initramfs $(du -h "$W/initrd.gz" | cut -f1)"
stage_end

# ---- 5. runs ------------------------------------------------------------------
SELECTED=${NESTED_SVM_RUNS:-}
ran=0
while IFS='|' read -r name cpu npt smp; do
  name=${name//[[:space:]]/}
  cpu=${cpu//[[:space:]]/}
  npt=${npt//[[:space:]]/}
  smp=${smp//[[:space:]]/}
  if [ -z "$name" ] || [ "${name:0:1}" = "#" ]; then continue; fi
  if [ -n "$SELECTED" ]; then
    case " $SELECTED " in *" $name "*) ;; *) continue ;; esac
  fi
  ran=$((ran + 1))
  D=$W/runs/$name
  rm -rf "$D"
  mkdir -p "$D"
  stage_begin "qemu run $name (-cpu $cpu -smp $smp)"
  qemu_ok=0
  run_qemu "$D/qemu.log" "$QEMU_TIMEOUT" "" \
    qemu-system-x86_64 -accel tcg -cpu "$cpu" -m "$QEMU_MEM" -smp "$smp" \
    -nographic -no-reboot -nic none \
    -kernel "$KDIR/vmlinuz" -initrd "$W/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 nsvm_npt=$npt nsvm_cpus=$smp" || qemu_ok=1
  stage_end
  clean_console "$D/qemu.log" "$D/console.txt"
  sed -n '/^===== nested-svm json begin =====$/,/^===== nested-svm json end =====$/p' \
    "$D/console.txt" | sed '1d;$d' >"$D/report.json"
  [ -s "$D/report.json" ] || rm -f "$D/report.json"
  check_result "$name" "QEMU finished by itself ($QEMU_STATUS after $QEMU_SECS s)" $qemu_ok
  CHECK_SOURCE=([console]="$D/console.txt" [json]="$D/report.json")
  fails_before=$N_FAIL
  eval_checks "$name" "$CHECKS"
  if [ "${NESTED_SVM_VERBOSE:-0}" = 1 ]; then
    sed "s/^/  $name| /" "$D/console.txt"
  elif [ "$N_FAIL" != "$fails_before" ]; then
    log "tail of $D/console.txt:"
    tail -n 40 "$D/console.txt" | sed "s/^/  $name| /"
  else
    grep -E '^(host:|nested-svm:)|mode |\] vector [0-9]+: ' "$D/console.txt" | sed "s/^/  $name| /" || true
  fi
done <<<"$RUNS"
[ "$ran" -gt 0 ] || abort "NESTED_SVM_RUNS='$SELECTED' names a run"

print_stage_times
summary nested-svm
