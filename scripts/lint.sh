#!/usr/bin/env bash
# Format and lint checks for the three workspaces: the VMM (host), the guest
# (no_std, kernel code model) and the fuzz targets. Exit non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --release --workspace --all-targets -- -D warnings
cd guest
cargo fmt --check
# The guest's own flags, its own target dir; without MICROVMM_USER_DIR the
# kernel embeds no programs, which is enough for linting.
CARGO_ENCODED_RUSTFLAGS=$(printf -- '-Ccode-model=kernel\x1f-Crelocation-model=static') \
  cargo clippy --release --target x86_64-unknown-linux-gnu --target-dir ../target/guest-lint --all-targets -- -D warnings
# The fuzz crate (fuzz/, its own workspace): checking it needs the afl
# crate from crates.io but no AFL installed; it never boots the guest.
cd ../fuzz
cargo fmt --check
MICROVMM_SKIP_GUEST=1 cargo clippy --release --all-targets -- -D warnings
echo "lint: ok"
