#!/usr/bin/env bash
# Coverage-guided fuzzing of microvmm's hostile-input code with AFL++
# through cargo-afl, on the stable toolchain (fuzz/, a crate of its own).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 60 s each, every target
#
# Installs cargo-afl and its AFL++ runtime if missing, builds the fuzz
# crate (its unit tests: cd fuzz && cargo test --release), makes the seed
# corpora (the embedded guest kernel, small static programs built here, a
# valid message of each kind, table trees), then runs each target for
# SECONDS, one after the other, and prints per target: executions,
# crashes, hangs. Exits non-zero on any crash, or if a target did not run
# (a crashing seed stops afl-fuzz). Findings stay in
# fuzz/target/afl/TARGET/default/{crashes,hangs}; replay one with
# fuzz/target/release/TARGET < FILE.
# One afl-fuzz at a time, on one core: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf program message paging analyse terminal console file tree)

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# cargo-afl from crates.io; its runtime (AFL++ from the crate's bundled
# source) is built once per toolchain. "already built" is not an error.
if ! cargo afl --version >/dev/null 2>&1; then
  cargo install cargo-afl --locked
fi
if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
  echo "$out" >&2
  exit 1
fi

# The fuzz targets never boot the guest: skip building it for this crate.
export MICROVMM_SKIP_GUEST=1
export CARGO_TERM_COLOR=never
(
  # (scripts/lint.sh formats and lints this crate; it needs no AFL.)
  cd fuzz
  cargo afl build --release
)

work=$root/fuzz/target/afl
rm -rf "$work/seeds"
mkdir -p "$work/seeds"
# Synthetic seeds: messages and page tables.
fuzz/target/release/seeds "$work/seeds"
mkdir -p "$work/seeds/elf" "$work/seeds/program"
# Past findings (fuzz/regressions/TARGET/*) are seeds too: AFL replays each
# before fuzzing and stops if one crashes again.
for d in fuzz/regressions/*/; do
  mkdir -p "$work/seeds/$(basename "$d")"
  cp "$d"* "$work/seeds/$(basename "$d")/"
done
# A real kernel: the embedded guest, from the main build.
if [ ! -x target/release/microvmm ]; then
  (unset MICROVMM_SKIP_GUEST && cargo build --release --bin microvmm)
fi
target/release/microvmm --emit-guest "$work/seeds/elf/guest"
# Small real programs: static, static PIE, and a dynamic one (refused).
src=$work/seeds/tiny.c
cat >"$src" <<'EOF'
void _start(void) {
  __asm__ volatile("mov $60, %eax\n xor %edi, %edi\n syscall");
}
EOF
gcc -Os -s -static -nostdlib -o "$work/seeds/program/static" "$src"
gcc -Os -s -static-pie -nostdlib -fPIE -o "$work/seeds/program/static-pie" "$src"
if command -v musl-gcc >/dev/null; then
  musl-gcc -Os -s -static -o "$work/seeds/program/musl-argv" tests/programs/argv.c
fi
cp /bin/true "$work/seeds/program/dynamic"
cp "$work/seeds/program/static" "$work/seeds/elf/user-exec"
rm "$src"

# AFL as root on a CI machine: no CPU governor to ask, core_pattern may
# pipe to a crash handler (AFL would refuse to start), no screen.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
# A seed that crashes stops afl-fuzz (no AFL_SKIP_CRASHES): it is a finding.
export AFL_NO_AFFINITY=1 AFL_FAST_CAL=1

stat_of() { # FILE KEY
  sed -n "s/^$2 *: *//p" "$1" | head -n1
}

failed=0
printf '%-8s %12s %8s %6s %6s %s\n' target executions exec/s crashes hangs command
for t in "${targets[@]}"; do
  out=$work/$t
  rm -rf "$out"
  cmd=(cargo afl fuzz -i "$work/seeds/$t" -o "$out" -V "$seconds" -t 1000 -- "fuzz/target/release/$t")
  "${cmd[@]}" >"$work/$t.log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "$t: afl-fuzz did not run; the end of its log:" >&2
    tail -n 30 "$work/$t.log" >&2
    failed=1
    continue
  fi
  execs=$(stat_of "$stats" execs_done)
  rate=$(stat_of "$stats" execs_per_sec)
  crashes=$(stat_of "$stats" saved_crashes)
  hangs=$(stat_of "$stats" saved_hangs)
  printf '%-8s %12s %8s %6s %6s %s\n' "$t" "$execs" "$rate" "$crashes" "$hangs" "${cmd[*]}"
  if [ "${crashes:-1}" != 0 ]; then
    echo "$t: crashes in $out/default/crashes/" >&2
    failed=1
  fi
done
exit $failed
