# shellcheck shell=bash
# Shared helpers for scripts/*.sh: logging, stage timing, apt, pattern checks,
# QEMU runs that stop on a pattern, and locating or building microvmm.
# Source it after setting SCRIPT_NAME; it defines REPO_ROOT.

# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT_NAME=${SCRIPT_NAME:-script}
export DEBIAN_FRONTEND=noninteractive

log() { printf '[%s] %s\n' "$SCRIPT_NAME" "$*" >&2; }

# ---- stage timing ------------------------------------------------------------
# stage_begin NAME ... stage_end: records wall time per stage for the summary.
STAGE_TIMES=()
_stage_name=""
_stage_t0=""
stage_begin() {
  _stage_name=$1
  _stage_t0=$EPOCHREALTIME
  log "== $1"
}
stage_end() {
  local t1=$EPOCHREALTIME
  [ -n "$_stage_name" ] || return 0
  STAGE_TIMES+=("$(awk -v a="$_stage_t0" -v b="$t1" -v n="$_stage_name" \
    'BEGIN { printf "%-28s %7.1f s", n, b - a }')")
  _stage_name=""
}
print_stage_times() {
  local t
  stage_end
  log "times:"
  for t in "${STAGE_TIMES[@]}"; do log "  $t"; done
}

# ---- checks ------------------------------------------------------------------
N_PASS=0
N_FAIL=0
check_result() { # RUN DESCRIPTION OK(0|1)
  if [ "$3" = 0 ]; then
    echo "PASS $1: $2"
    N_PASS=$((N_PASS + 1))
  else
    echo "FAIL $1: $2"
    N_FAIL=$((N_FAIL + 1))
  fi
}

# Files the check SOURCE names resolve to; callers fill it per run.
declare -A CHECK_SOURCE=()

# eval_checks RUN SPEC: SPEC holds lines "RUNS|SOURCE|DESCRIPTION|REGEX".
# RUNS is '*' or a comma list of run names; SOURCE a key of CHECK_SOURCE;
# REGEX a grep -E pattern, or '!' + pattern for "must not appear".
# Blank lines and lines starting with '#' are skipped.
eval_checks() {
  local run=$1 spec=$2 runs src desc re neg file ok
  while IFS='|' read -r runs src desc re; do
    runs=${runs//[[:space:]]/}
    if [ -z "$runs" ] || [ "${runs:0:1}" = "#" ]; then continue; fi
    case ",$runs," in *",$run,"* | *",*,"*) ;; *) continue ;; esac
    src=${src//[[:space:]]/}
    desc=$(echo "$desc" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    re=$(echo "$re" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    neg=0
    if [ "${re:0:1}" = "!" ]; then neg=1; re=${re:1}; fi
    file=${CHECK_SOURCE[$src]:-}
    ok=1
    if [ -n "$file" ] && [ -s "$file" ]; then
      if grep -qE -- "$re" "$file"; then
        [ $neg = 1 ] || ok=0
      else
        [ $neg = 0 ] || ok=0
      fi
    fi
    check_result "$run" "$desc" $ok
  done <<<"$spec"
}

# summary NAME: the final line; returns non-zero when anything failed.
summary() {
  echo "$1: $N_PASS passed, $N_FAIL failed"
  [ "$N_FAIL" = 0 ] && [ "$N_PASS" -gt 0 ]
}

# ---- apt ---------------------------------------------------------------------
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    log "need root for: $*"
    return 1
  fi
}

# apt_get ARGS: apt-get that waits for a lock another apt holds.
apt_get() {
  local try
  for try in 1 2 3; do
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@" && return 0
    log "apt-get $* failed (try $try), retrying in 10 s"
    sleep 10
  done
  return 1
}

APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  apt_get update -qq || return 1
  APT_UPDATED=1
}

# need_cmd COMMAND PACKAGE: installs PACKAGE when COMMAND is missing.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (for $1)"
  apt_update_once || return 1
  apt_get install -y -qq --no-install-recommends "$2" >/dev/null || return 1
  command -v "$1" >/dev/null 2>&1
}

# ---- cargo / microvmm --------------------------------------------------------
ensure_cargo() {
  command -v cargo >/dev/null 2>&1 && return 0
  # shellcheck disable=SC1091
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  command -v cargo >/dev/null 2>&1 || { log "cargo not found"; return 1; }
}

# ---- QEMU --------------------------------------------------------------------
# run_qemu LOG TIMEOUT DONE_REGEX QEMU-ARGS...: runs QEMU with output to LOG
# and stdin from /dev/null. Stops it early once LOG matches DONE_REGEX (empty:
# wait for QEMU to exit). Sets QEMU_STATUS to "exited N", "done" or "timeout"
# and QEMU_SECS; returns 0 for "exited 0" and "done".
run_qemu() {
  local logf=$1 tmo=$2 done_re=$3 pid t0 rc
  shift 3
  t0=$EPOCHREALTIME
  : >"$logf"
  timeout "$tmo" "$@" </dev/null >"$logf" 2>&1 &
  pid=$!
  QEMU_STATUS=""
  while kill -0 "$pid" 2>/dev/null; do
    if [ -n "$done_re" ] && tr -d '\r' <"$logf" | grep -qE -- "$done_re"; then
      sleep 0.2 # let the last line of output drain
      kill "$pid" 2>/dev/null || true
      QEMU_STATUS="done"
      break
    fi
    sleep 0.1
  done
  rc=0
  wait "$pid" || rc=$?
  # shellcheck disable=SC2034 # read by the caller
  QEMU_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ -z "$QEMU_STATUS" ]; then
    if [ "$rc" = 124 ]; then QEMU_STATUS=timeout; else QEMU_STATUS="exited $rc"; fi
  fi
  case $QEMU_STATUS in "exited 0" | done) return 0 ;; *) return 1 ;; esac
}

# clean_console RAW OUT: serial log without CRs and terminal escapes.
clean_console() {
  # SeaBIOS resets the terminal (ESC c) mid-line: make that a line break.
  tr -d '\r' <"$1" | sed 's/\x1bc/\n/g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[()][0-9A-Za-z]//g' >"$2"
}
