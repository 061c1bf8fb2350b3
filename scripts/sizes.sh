#!/usr/bin/env bash
# The file-size gate: lists every Rust source file in vmm/, guest/, fuzz/
# and tests/ longer than the limit (400 lines, the project's "about 400"),
# longest first, and exits 1 if there is any. Build output (target/,
# node_modules/) is not source; a file that marks itself `@generated` in
# its first five lines is skipped (there is none today).
#
#   scripts/sizes.sh [LIMIT]    default 400
#
# The function gate is clippy's too_many_lines, with the threshold in
# clippy.toml (80); docs/ci.md says how to run both.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-400}
over=""
while IFS= read -r -d '' f; do
  if head -n 5 "$f" | grep -q '@generated'; then
    continue
  fi
  n=$(wc -l <"$f")
  if [ "$n" -gt "$limit" ]; then
    over+=$(printf '%6d %s' "$n" "$f")$'\n'
  fi
done < <(find vmm guest fuzz tests \( -name target -o -name node_modules \) -prune \
  -o -type f -name '*.rs' -print0)
if [ -n "$over" ]; then
  printf '%s' "$over" | sort -rn
  echo "sizes: $(printf '%s' "$over" | wc -l) file(s) over $limit lines" >&2
  exit 1
fi
echo "sizes: no .rs file over $limit lines"
