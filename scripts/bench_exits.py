"""Section 12 of scripts/bench.py (issue 21): every VM exit KVM takes for
a run, by kind, from KVM's own counters (the report's `kvm.total`: every
exit of the run, whoever it is charged to). Per run: VM exits, emulated
instructions (insn_emulation) and KVM page faults (pf_taken, of which
pf_guest were the guest's own and pf_fixed shadow fills), medians of N
runs, with 4 KiB host pages (the default) and THP (KVM's shadow entries
then map up to 2 MiB: fewer fills); then exits per guest demand fault (touch:16 minus touch:1, over the
3840 faults between them) and per system call (a static program making
20000 getpid calls minus one making none) and per write(2) of one line to
stdout (2000 unbuffered writes minus none: the console's batching).
BENCH_BEFORE=PATH adds the same
rows for another microvmm (e.g. a build of an older commit), interleaved.
Uses bench.py's helpers, passed in as `b`."""

import json
import os
import subprocess

KEYS = ["exits", "insn_emulation", "pf_taken", "pf_guest", "pf_fixed", "req_event"]

SYSCALLS_C = r"""
#include <unistd.h>
#include <stdlib.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    return 0;
}
"""

WRITES_C = r"""
#include <unistd.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    for (long i = 0; i < n; i++)
        if (write(1, "a line of output\n", 17) != 17)
            return 1;
    return 0;
}
"""


def counters(mvmm, args):
    """KVM's run totals (vCPU counters) and the guest's fault count for one
    run of `mvmm -q ARGS --json -`, or None."""
    try:
        r = subprocess.run([mvmm, "-q", *args, "--json", "-"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=300)
        j = json.loads(r.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return None
    k = j.get("kvm") or {}
    if not k.get("available"):
        return None
    v = k["total"]["vcpu"]
    out = {key: v.get(key, 0) for key in KEYS}
    out["guest_faults"] = sum(sum(p["faults_by_kind"].values()) for p in j["processes"])
    return out


def program(b, name, source):
    src = os.path.join(b.OUT_DIR, name + ".c")
    exe = os.path.join(b.OUT_DIR, name)
    with open(src, "w") as f:
        f.write(source)
    r = subprocess.run(["gcc", "-O2", "-static", "-o", exe, src], stderr=subprocess.DEVNULL)
    return exe if r.returncode == 0 else None


def run(b):
    sec = {}
    getpids = program(b, "getpids", SYSCALLS_C)
    writes = program(b, "writes", WRITES_C)
    runs = {
        "--cmdline addrspace": ["--cmdline", "addrspace"],
        "--cmdline addrspace --backing thp": ["--cmdline", "addrspace", "--backing", "thp"],
        "the 7-process demo without spin": ["--cmdline", b.DEMO_NO_SPIN],
        "--cmdline touch:16": ["--cmdline", "touch:16"],
        "--cmdline touch:16 --backing thp": ["--cmdline", "touch:16", "--backing", "thp"],
        "--cmdline touch:1": ["--cmdline", "touch:1"],
        "--run ostep (static glibc)": ["--run", b.OSTEP],
    }
    if getpids:
        runs["--run getpids 0"] = ["--run", f"{getpids} 0"]
        runs["--run getpids 20000"] = ["--run", f"{getpids} 20000"]
    if writes:
        runs["--run writes 0"] = ["--run", f"{writes} 0"]
        runs["--run writes 2000"] = ["--run", f"{writes} 2000"]
    bins = {"": b.MVMM}
    before = os.environ.get("BENCH_BEFORE")
    if before:
        bins["before: "] = before
    cmds = {(tag, name): (path, args) for tag, path in bins.items() for name, args in runs.items()}
    raw = b.interleave(cmds, lambda c: counters(*c))
    for tag in bins:
        got = {}
        for name in runs:
            xs = [x for x in raw[(tag, name)] if x]
            got[name] = {key: b.stats([x[key] for x in xs]) for key in KEYS + ["guest_faults"]}
            s = got[name]
            note = ", ".join(f"{key} {s[key]['median']:.0f}" for key in KEYS[1:] if s[key])
            b.row("12 exits", f"{tag}{name}: VM exits ({note})", s["exits"], "exits")
        per = {}
        t16, t1 = raw[(tag, "--cmdline touch:16")], raw[(tag, "--cmdline touch:1")]
        pairs = [(x, y) for x, y in zip(t16, t1) if x and y and x["guest_faults"] > y["guest_faults"]]
        for key in ["exits", "insn_emulation", "pf_taken"]:
            st = b.stats([(x[key] - y[key]) / (x["guest_faults"] - y["guest_faults"]) for x, y in pairs])
            per[f"{key}_per_fault"] = st
            b.row("12 exits", f"{tag}{key} per guest demand fault (touch:16 - touch:1)", st, key)
        if getpids:
            many, none = raw[(tag, "--run getpids 20000")], raw[(tag, "--run getpids 0")]
            st = b.stats([(x["exits"] - y["exits"]) / 20000 for x, y in zip(many, none) if x and y])
            per["exits_per_syscall"] = st
            b.row("12 exits", f"{tag}VM exits per system call (getpid x 20000 - x 0)", st, "exits")
        if writes:
            many, none = raw[(tag, "--run writes 2000")], raw[(tag, "--run writes 0")]
            st = b.stats([(x["exits"] - y["exits"]) / 2000 for x, y in zip(many, none) if x and y])
            per["exits_per_write"] = st
            b.row("12 exits", f"{tag}VM exits per write(2) of a line (x 2000 - x 0)", st, "exits")
        sec[tag or "now"] = {"runs": got, "per": per}
    b.results["sections"]["exits"] = sec
