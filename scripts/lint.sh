#!/usr/bin/env bash
# Format and lint checks for both workspaces: the VMM (host) and the guest
# (no_std, kernel code model). Exit non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cd guest
cargo fmt --check
# The guest's own flags, its own target dir; without MICROVMM_USER_DIR the
# kernel embeds no programs, which is enough for linting.
CARGO_ENCODED_RUSTFLAGS=$(printf -- '-Ccode-model=kernel\x1f-Crelocation-model=static') \
  cargo clippy --release --target x86_64-unknown-linux-gnu --target-dir ../target/guest-lint --all-targets -- -D warnings
echo "lint: ok"
