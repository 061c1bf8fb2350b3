#!/usr/bin/env bash
# The HTML report in a real browser: boots the demo (and the hostile test
# guest, and a 1 GiB --pages run unless QUICK=1), writes their HTML and JSON
# reports, then drives Debian's headless Chromium over them with
# playwright-core (tests/browser/report.test.mjs): click addrspace's heap
# page and compare the walk grid with the JSON, zoom and pan the timeline
# and click a heap fault on it (its page opens), search a GVA, check the
# hostile process name is text, time the first paint. Installs what it
# needs: chromium (apt), playwright-core (npm ci, into the git-ignored
# tests/browser/node_modules). Screenshots and reports stay in
# target/browser/ (CI artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/browser
mkdir -p "$out"

if ! command -v chromium >/dev/null; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium
fi
chromium --version
echo "== playwright-core (npm ci)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

cargo build --release -q
bin=target/release/microvmm
guests=$(find target/release/build -path '*/out/guest/hostile' -printf '%T@ %h\n' 2>/dev/null |
  sort -n | tail -1 | cut -d' ' -f2)

echo "== the demo"
"$bin" -q --json "$out/demo.json" --html "$out/demo.html"
"$bin" -q --dirty-log --html "$out/dirty.html"
echo "== the hostile test guest (exit 1 expected: it breaks the protocol)"
rc=0
"$bin" -q --timeout 30 --html "$out/hostile.html" "$guests/hostile" || rc=$?
[ "$rc" = 1 ] || { echo "hostile guest: exit $rc, want 1"; exit 1; }
if [ "${QUICK:-0}" != 1 ]; then
  echo "== 1 GiB, 960 MiB touched, every page"
  "$bin" -q --mem 1G --timeout 60 --cmdline touch:960 --pages --html "$out/big.html"
else
  rm -f "$out/big.html"
fi
ls -l "$out"/*.html
echo "== Chromium"
node tests/browser/report.test.mjs "$out"
