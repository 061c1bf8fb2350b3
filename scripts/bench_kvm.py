"""Section 11 of scripts/bench.py: what issue 20's observers cost and what
KVM's counters say. The demo with and without --trace (interleaved, with
the trace file written), the demo at three --kvm-sample-us periods, and VM
exits per guest page fault from KVM's own counters (the heap process of
--cmdline "addrspace heap stack", and the whole run). Uses bench.py's
helpers, passed in as `b`."""

import json
import os
import subprocess


def exits_per_fault(b):
    """One run of the heap demo: (heap's exits per fault, its pf_taken per
    fault, the run's exits per guest fault, its mixed share), or None."""
    r = subprocess.run([b.MVMM, "-q", "--cmdline", "addrspace heap stack", "--json", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    if r.returncode != 0:
        return None
    j = json.loads(r.stdout)
    k = j.get("kvm") or {}
    if not k.get("available"):
        return None
    heap = next((p for p in j["processes"] if p["name"] == "heap"), None)
    if not heap or not heap.get("kvm"):
        return None
    allf = sum(sum(p["faults_by_kind"].values()) for p in j["processes"])
    tot = k["total"]["vcpu"].get("exits", 0)
    # Per fault within the heap's own intervals (those not "mixed"): on
    # shadow paging and PVM every guest fault passes through KVM as
    # pf_guest, so it counts the faults of exactly the intervals whose
    # exits are the heap's (under EPT/NPT it stays near 0: no row then).
    hv = heap["kvm"]["vcpu"]
    own = hv.get("pf_guest", 0)
    return {
        "heap_exits_per_fault": hv.get("exits", 0) / own if own else None,
        "heap_pf_taken_per_fault": hv.get("pf_taken", 0) / own if own else None,
        "run_exits_per_fault": tot / allf if allf else None,
        "mixed_share": k["mixed"]["vcpu"].get("exits", 0) / tot if tot else None,
        "heap": heap["kvm"]["vcpu"],
    }


def run(b):
    sec = {}
    trace = os.path.join(b.OUT_DIR, "demo-trace.json")
    cmds = {
        "demo (-q)": [b.MVMM, "-q"],
        "demo with --trace FILE": [b.MVMM, "-q", "--trace", trace],
        "demo, KVM counters only at exits (--kvm-sample-us 0)": [b.MVMM, "-q", "--kvm-sample-us", "0"],
        "demo, KVM counters every 200 us": [b.MVMM, "-q", "--kvm-sample-us", "200"],
    }
    raw = b.interleave(cmds, lambda c: b.wall(c)[0])
    base = b.stats(raw["demo (-q)"])
    for k, xs in raw.items():
        s = b.stats(xs)
        r = b.ratio(s, base)
        sec[k] = {**(s or {}), "vs_demo": r}
        b.row("11 kvm/trace", k, s, "ms", b.fmt_ratio(r, "demo") if k != "demo (-q)" else "baseline")
    if os.path.exists(trace):
        sec["trace_file_bytes"] = os.path.getsize(trace)
    per = [exits_per_fault(b) for _ in range(max(3, b.N // 2))]
    per = [p for p in per if p]
    for key, what, unit in [
        ("heap_exits_per_fault", "heap: VM exits per guest fault (pf_guest), own intervals", "exits"),
        ("heap_pf_taken_per_fault", "heap: KVM pf_taken per guest fault (pf_guest)", "faults"),
        ("run_exits_per_fault", "whole run: VM exits per guest page fault", "exits"),
        ("mixed_share", "share of the run's exits charged to 'mixed'", "ratio"),
    ]:
        s = b.stats([p[key] for p in per if p[key] is not None])
        sec[key] = s
        b.row("11 kvm/trace", what, s, unit)
    if per:
        sec["heap_counters_last_run"] = per[-1]["heap"]
    b.results["sections"]["kvm_trace"] = sec
