#!/usr/bin/env python3
"""microvmm's benchmarks, each against a baseline measured in the same
invocation, runs interleaved (A, B, C, A, B, C, ...) so that a busy machine
disturbs every side alike. Called by scripts/bench.sh, which builds what it
needs and passes the paths. Prints a table; writes target/bench/results.json.
Timings are reported, never asserted."""

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import bench_exits
import bench_kvm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"bench.py: {name} not set (run scripts/bench.sh)")
    return v


MVMM = env("BENCH_MICROVMM")
FLOOR = env("BENCH_FLOOR")
OSTEP = env("BENCH_OSTEP")
GUEST_ELF = env("BENCH_GUEST_ELF")
WALK_BENCH = env("BENCH_WALK")
OUT_DIR = env("BENCH_OUT")
N = int(os.environ.get("BENCH_RUNS", "10"))
QEMU = os.environ.get("BENCH_QEMU", "")
QEMU_USER = os.environ.get("BENCH_QEMU_USER", "")
DEMO_NO_SPIN = "addrspace heap stack snoop:0 snoop:1 snoop:2 snoop:3"

results = {"machine": {}, "runs": N, "sections": {}}
rows = []  # (section, what, median, min, max, unit, ratio text)
disturbed = []


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def spread_note(name, s):
    # A max far above the median means some runs met a busy machine.
    if s and s["median"] > 0 and s["max"] > 2 * s["median"]:
        disturbed.append(f"{name}: max {s['max']:.2f} is {s['max'] / s['median']:.1f}x the median")


def row(section, what, s, unit, ratio=""):
    rows.append((section, what, s, unit, ratio))
    spread_note(what, s)


def ratio(a, b):
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def fmt_ratio(r, label):
    return f"{r:.2f}x {label}" if r is not None else ""


def wall(cmd):
    """Wall time of one run in ms, and the child's peak RSS in KiB, or None
    if it failed."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    ms = (time.perf_counter() - t) * 1e3
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        print(f"bench: {' '.join(cmd)} failed (exit {p.returncode}); not timed", file=sys.stderr)
        return None, None
    return ms, ru.ru_maxrss


def first_line(cmd, pattern, kill=False, limit=20):
    """ms from spawn to the first stdout line matching `pattern`; None if
    none came within `limit` seconds (the process is then killed)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    guard = threading.Timer(limit, p.kill)
    guard.start()
    got = None
    for line in p.stdout:
        if re.search(pattern, line.decode(errors="replace")):
            got = (time.perf_counter() - t) * 1e3
            break
    if kill:
        p.kill()
    else:
        p.stdout.read()
    p.wait()
    guard.cancel()
    return got


def output(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return r.returncode, r.stdout.decode(errors="replace")


def interleave(cmds, fn, rounds=N):
    """Run each of `cmds` once per round, in order, `rounds` times."""
    out = {k: [] for k in cmds}
    for _ in range(rounds):
        for k, c in cmds.items():
            out[k].append(fn(c))
    return out


def has_flag(flag):
    return flag in output([MVMM, "--help"])[1]


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = open("/proc/loadavg").read().split()[:3]
    m = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg_start": " ".join(load),
        "host_line": output([MVMM, "-q", "--cmdline", "addrspace"])[1].splitlines()[0:1],
    }
    results["machine"] = m
    print(f"machine: {cpu}, {m['cores']} cores, kernel {m['kernel']}, {m['date']}, load {m['loadavg_start']}")


def s1_whole_process():
    cmds = {
        "floor (raw KVM: VM, 128 MiB slot, vCPU, run to first out)": [FLOOR],
        "microvmm -q --cmdline addrspace": [MVMM, "-q", "--cmdline", "addrspace"],
        "microvmm -q --cmdline '<demo without spin>'": [MVMM, "-q", "--cmdline", DEMO_NO_SPIN],
        "microvmm -q (the default demo)": [MVMM, "-q"],
        "microvmm -q --run ostep (gcc -static)": [MVMM, "-q", "--run", OSTEP],
        "ostep natively on the host": [OSTEP],
    }
    if QEMU_USER:
        # The other way to run a Linux program "in an emulator": qemu-user
        # translates its code (TCG) and passes its system calls to the host.
        cmds["ostep under qemu-x86_64 (Debian's qemu-user, TCG)"] = [QEMU_USER, OSTEP]
    if has_flag("--irqchip"):
        # The alternatives to the split irqchip, measured side by side.
        cmds["microvmm -q --irqchip full --cmdline addrspace"] = [MVMM, "-q", "--irqchip", "full", "--cmdline", "addrspace"]
        cmds["microvmm -q --irqchip none --cmdline addrspace"] = [MVMM, "-q", "--irqchip", "none", "--cmdline", "addrspace"]
    static = os.environ.get("BENCH_MICROVMM_STATIC")
    if static:
        # Whether a static binary cuts process start (built by nested-svm.sh).
        cmds["static microvmm -q --cmdline addrspace"] = [static, "-q", "--cmdline", "addrspace"]
    before = os.environ.get("BENCH_BEFORE")
    if before:
        # Another build (e.g. main before a change), interleaved with this one.
        cmds["before: microvmm -q --cmdline addrspace"] = [before, "-q", "--cmdline", "addrspace"]
        cmds["before: microvmm -q --cmdline '<demo without spin>'"] = [before, "-q", "--cmdline", DEMO_NO_SPIN]
        cmds["before: microvmm -q --run ostep (gcc -static)"] = [before, "-q", "--run", OSTEP]
    raw = interleave(cmds, lambda c: wall(c)[0])
    floor = stats(raw[next(iter(cmds))])
    sec = {}
    for k, xs in raw.items():
        s = stats(xs)
        r = ratio(s, floor)
        sec[k] = {**(s or {}), "vs_floor": r}
        row("1 whole process", k, s, "ms", fmt_ratio(r, "floor") if k != next(iter(cmds)) else "baseline")
    results["sections"]["whole_process"] = sec


def s2_first_line():
    cmds = {
        "floor": ([FLOOR, "line"], r"floor: guest up", False),
        "microvmm --cmdline addrspace": ([MVMM, "--cmdline", "addrspace"], r"microvmm guest kernel", False),
    }
    qemu_base = [QEMU, "-machine", "microvm", "-nodefaults", "-nographic", "-no-reboot",
                 "-serial", "stdio", "-monitor", "none", "-m", "128M", "-kernel", GUEST_ELF]
    if QEMU:
        cmds["QEMU microvm, TCG"] = (qemu_base + ["-accel", "tcg"], r"microvmm guest kernel", True)
        # KVM under this host may not boot the guest: tried once, kept if it does.
        if first_line(qemu_base + ["-accel", "kvm"], r"microvmm guest kernel", kill=True, limit=5):
            cmds["QEMU microvm, KVM"] = (qemu_base + ["-accel", "kvm"], r"microvmm guest kernel", True)
        else:
            results["sections"]["qemu_kvm_note"] = "QEMU with -accel kvm printed no guest line here"
    raw = interleave(cmds, lambda c: first_line(*c))
    floor = stats(raw["floor"])
    mv = stats(raw["microvmm --cmdline addrspace"])
    sec = {}
    for k, xs in raw.items():
        s = stats(xs)
        sec[k] = {**(s or {}), "vs_floor": ratio(s, floor), "vs_microvmm": ratio(s, mv)}
        text = "baseline" if k == "floor" else fmt_ratio(ratio(s, floor), "floor")
        if k.startswith("QEMU"):
            text += ", " + fmt_ratio(ratio(s, mv), "microvmm")
        row("2 first guest line", k, s, "ms", text)
    results["sections"]["first_line"] = sec


def parse_us(text, pattern):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def s3_exit_round_trip():
    def mv(_):
        rc, t = output([MVMM, "-q", "--cmdline", "bench:2"])
        return parse_us(t, r"port exit round trip.*= ([0-9.]+) us") if rc == 0 else None

    def fl(_):
        rc, t = output([FLOOR, "loop", "1000"])
        return parse_us(t, r"([0-9.]+) us each") if rc == 0 else None

    raw = interleave({"floor": fl, "microvmm": mv}, lambda f: f(None))
    floor, m = stats(raw["floor"]), stats(raw["microvmm"])
    row("3 exit round trip", "floor: real-mode out loop, 1000 exits (emulated)", floor, "us", "baseline")
    row("3 exit round trip", "microvmm bench:2: kernel out loop, 1000 exits (PVM native)", m, "us",
        fmt_ratio(ratio(m, floor), "floor"))
    results["sections"]["exit_round_trip"] = {"floor": floor, "microvmm": m, "ratio": ratio(m, floor)}


def s4_guest_costs():
    raw = {"null syscall (getpid)": [], "demand-paged heap fault": [], "process switch": []}
    for _ in range(max(3, N // 2)):
        _, t = output([MVMM, "-q", "--cmdline", "bench"])
        raw["null syscall (getpid)"].append(parse_us(t, r"null syscall.*= ([0-9.]+) us"))
        raw["demand-paged heap fault"].append(parse_us(t, r"heap fault.*= ([0-9.]+) us"))
        _, t = output([MVMM, "-q", "--cmdline", "bench:1 bench:1"])
        raw["process switch"].append(parse_us(t, r"process switch.*= ([0-9.]+) us"))
    sec = {}
    for k, xs in raw.items():
        s = stats(xs)
        sec[k] = s
        row("4 guest-measured", k, s, "us")
    results["sections"]["guest_costs"] = sec


def s5_walker():
    rc, t = output([WALK_BENCH])
    lines = [l for l in t.splitlines() if re.match(r"(FlatMem|mmap)\s", l)]
    sec = []
    for l in lines:
        w = l.split()
        # reader page op... per-second ns/op vs-read vs-hash
        sec.append({"reader": w[0], "page": w[1], "op": " ".join(w[2:-4]),
                    "per_second": float(w[-4]), "ns": float(w[-3]), "vs_read": w[-2]})
    results["sections"]["walker"] = sec
    results["sections"]["walker_text"] = t
    for e in sec:
        if "walk" in e["op"] or "read" in e["op"]:
            rows.append(("5 walker", f"{e['reader']} {e['page']} {e['op']}",
                         {"median": e["ns"], "min": e["ns"], "max": e["ns"]}, "ns/op", e["vs_read"] + " PTE read"))


def s6_one_gib():
    base = [MVMM, "--mem", "1G", "--timeout", "120", "--cmdline", "touch:960", "-q"]
    json_path = os.path.join(OUT_DIR, "1g.json")
    cmds = {"1 GiB, touch:960, no report": base,
            "with --pages --json": base + ["--pages", "--json", json_path]}
    if has_flag("--verify"):
        cmds["with --verify all"] = base + ["--verify", "all"]
    raw = interleave(cmds, lambda c: wall(c)[0], rounds=3)
    plain = stats(raw[next(iter(cmds))])
    sec = {}
    for k, xs in raw.items():
        s = stats(xs)
        r = ratio(s, plain)
        sec[k] = {**(s or {}), "vs_plain": r}
        row("6 1 GiB guest", k, s, "ms", "baseline" if k == next(iter(cmds)) else fmt_ratio(r, "no report"))
    try:
        sec["json_bytes"] = os.path.getsize(json_path)
        os.remove(json_path)
    except OSError:
        pass
    results["sections"]["one_gib"] = sec


def peak_rss_kib(cmd):
    """The peak RSS of `cmd` in KiB, through GNU time: a child spawned
    straight from this Python would inherit Python's own high-water mark
    (ru_maxrss survives execve), which is bigger than microvmm's."""
    path = os.path.join(OUT_DIR, "rss.txt")
    ms, _ = wall(["/usr/bin/time", "-f", "%M", "-o", path] + cmd)
    if ms is None:
        return None
    try:
        return int(open(path).read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def s7_memory():
    if not os.access("/usr/bin/time", os.X_OK):
        results["sections"]["memory"] = "skipped: needs GNU time (/usr/bin/time)"
        return
    out = {}
    for name, cmd in [("addrspace", ["--cmdline", "addrspace"]), ("demo", []),
                      ("1 GiB touch:960", ["--mem", "1G", "--timeout", "120", "--cmdline", "touch:960"])]:
        path = os.path.join(OUT_DIR, "mem.json")
        samples = []
        for _ in range(1 if "GiB" in name else 3):
            rss = peak_rss_kib([MVMM, "-q", "--json", path] + cmd)
            try:
                resident = json.load(open(path))["memory"].get("resident")
            except (OSError, ValueError, KeyError):
                resident = None
            if rss is not None and resident is not None:
                samples.append((rss * 1024 - resident) / 2**20)
            out.setdefault(name, {})["peak_rss_mib"] = rss / 1024 if rss else None
            out[name]["guest_resident_mib"] = resident / 2**20 if resident is not None else None
        s = stats(samples)
        out[name]["beyond_guest_mib"] = s
        row("7 memory", f"VmHWM minus guest RAM resident: {name}", s, "MiB",
            "" if s else "n/a (no memory.resident in the JSON)")
    floor = stats([peak_rss_kib([FLOOR]) / 1024 for _ in range(3)])
    out["floor_peak_rss_mib"] = floor
    row("7 memory", "the floor's whole peak RSS, for scale", floor, "MiB")
    results["sections"]["memory"] = out


def s8_concurrent():
    out = {}
    for n in [1, 4, 16, 64]:
        t = time.perf_counter()
        procs = [subprocess.Popen([MVMM, "-q", "--cmdline", "addrspace"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(n)]
        fails = sum(1 for p in procs if p.wait() != 0)
        ms = (time.perf_counter() - t) * 1e3
        out[n] = {"total_ms": ms, "per_vm_ms": ms / n, "failures": fails}
        rows.append(("8 concurrent VMs", f"{n} x --cmdline addrspace: total (per VM {ms / n:.1f} ms)",
                     {"median": ms, "min": ms, "max": ms}, "ms", f"{fails} failed"))
    results["sections"]["concurrent"] = out


def s9_fork():
    """fork + exit + wait with 16 MiB touched: in the guest vs natively."""
    prog = env("BENCH_FORKBENCH")

    def median_of(cmd):
        rc, t = output(cmd)
        return parse_us(t, r"median ([0-9.]+) us") if rc == 0 else None

    raw = interleave({"native": [prog], "microvmm": [MVMM, "-q", "--run", prog]}, median_of)
    nat, m = stats(raw["native"]), stats(raw["microvmm"])
    row("9 fork", "native: fork+exit+wait, 16 MiB touched (median of 21)", nat, "us", "baseline")
    row("9 fork", "microvmm --run: the same program in the guest", m, "us",
        fmt_ratio(ratio(m, nat), "native"))
    results["sections"]["fork"] = {"native": nat, "microvmm": m, "ratio": ratio(m, nat)}


def s10_smp():
    """--cpus 1 vs 2: the demo and a threaded program (wall ms), and the
    guest-side round trip of one TLB shootdown (IPI until every target has
    flushed, the guest's TSC: processes[].tlb_shootdown_us / count)."""
    prog, sd = env("BENCH_THREADS"), env("BENCH_SHOOTDOWN")
    cmds = {"demo, --cpus 1": [MVMM, "-q"], "demo, --cpus 2": [MVMM, "-q", "--cpus", "2"],
            "threads.c, --cpus 1": [MVMM, "-q", "--run", prog],
            "threads.c, --cpus 2": [MVMM, "-q", "--cpus", "2", "--run", prog]}
    raw = interleave(cmds, lambda c: wall(c)[0])
    sec = {}
    for k in cmds:
        st = stats(raw[k])
        base = stats(raw[k.replace("--cpus 2", "--cpus 1")])
        r = ratio(st, base) if "--cpus 2" in k else None
        row("10 smp", f"microvmm {k}", st, "ms", fmt_ratio(r, "--cpus 1") if r else "baseline")
        sec[k] = {"stats": st, "vs_cpus1": r}

    shots = []
    for _ in range(N):
        r = subprocess.run([MVMM, "-q", "--cpus", "2", "--run", sd, "--json", "-"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
        try:
            p = json.loads(r.stdout)["processes"][0]
            shots.append(p["tlb_shootdown_us"] / p["tlb_shootdowns"] if p["tlb_shootdowns"] else None)
        except (ValueError, KeyError, IndexError):
            shots.append(None)
    st = stats(shots)
    row("10 smp", "one TLB shootdown, guest round trip (shootdown.c, --cpus 2)", st, "us")
    sec["shootdown_round_trip_us"] = st
    results["sections"]["smp"] = sec


def targets():
    s = results["sections"]
    wp = s.get("whole_process", {})
    fl = s.get("first_line", {})
    et = s.get("exit_round_trip", {})
    og = s.get("one_gib", {})
    mem = s.get("memory", {}).get("addrspace", {}).get("beyond_guest_mib")
    conc = s.get("concurrent", {}).get(64, {})
    qt = fl.get("QEMU microvm, TCG", {}).get("vs_microvmm")

    def g(d, k):
        return d.get(k, {}).get("vs_floor")

    checks = [
        ("--cmdline addrspace <= 2x the floor", g(wp, "microvmm -q --cmdline addrspace"), lambda r: r <= 2),
        ("first guest line <= 1.5x the floor", g(fl, "microvmm --cmdline addrspace"), lambda r: r <= 1.5),
        ("demo without spin <= 4x the floor", g(wp, "microvmm -q --cmdline '<demo without spin>'"), lambda r: r <= 4),
        ("QEMU TCG >= 10x microvmm to the first guest line", qt, lambda r: r >= 10),
        ("exit round trip <= 1.1x the floor's", et.get("ratio"), lambda r: r <= 1.1),
        ("1 GiB --pages --json adds <= 5 %", og.get("with --pages --json", {}).get("vs_plain"), lambda r: r <= 1.05),
        ("VMM RSS beyond guest RAM <= 4 MiB (addrspace)", mem["median"] if mem else None, lambda r: r <= 4),
        ("64 concurrent VMs all succeed", conc.get("failures"), lambda f: f == 0),
        ("--trace adds <= 10 % to the demo",
         s.get("kvm_trace", {}).get("demo with --trace FILE", {}).get("vs_demo"), lambda r: r <= 1.10),
    ]
    print("\n== targets")
    out = []
    for name, v, ok in checks:
        verdict = "n/a" if v is None else ("holds" if ok(v) else "MISSES")
        val = "" if v is None else f"{v:.2f}"
        print(f"  {verdict:<7} {name}: {val}")
        out.append({"target": name, "value": v, "verdict": verdict})
    results["targets"] = out


def table():
    print()
    print(f"{'section':<20} {'what':<62} {'median':>10} {'min':>10} {'max':>10} unit   ratio")
    for sec, what, s, unit, r in rows:
        if s is None:
            print(f"{sec:<20} {what:<62} {'failed':>10}")
            continue
        print(f"{sec:<20} {what[:62]:<62} {s['median']:>10.2f} {s['min']:>10.2f} {s['max']:>10.2f} {unit:<6} {r}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    machine()
    only = os.environ.get("BENCH_SECTIONS", "").split()
    for name, f in [("1", s1_whole_process), ("2", s2_first_line), ("3", s3_exit_round_trip),
                    ("4", s4_guest_costs), ("5", s5_walker), ("6", s6_one_gib), ("7", s7_memory),
                    ("8", s8_concurrent), ("9", s9_fork), ("10", s10_smp),
                    ("11", lambda: bench_kvm.run(sys.modules[__name__])),
                    ("12", lambda: bench_exits.run(sys.modules[__name__]))]:
        if only and name not in only:
            continue
        t = time.perf_counter()
        first = len(rows)
        f()
        # Each section's rows as soon as it ends, and the JSON so far: a
        # run cut short still leaves what it measured.
        for sec, what, s, unit, r in rows[first:]:
            med = f"{s['median']:.2f}" if s else "failed"
            print(f"  [{sec}] {what}: {med} {unit} {r}", file=sys.stderr, flush=True)
        print(f"  section {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        with open(os.path.join(OUT_DIR, "results.json"), "w") as out:
            json.dump(results, out, indent=1, default=str)
    table()
    targets()
    results["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    results["disturbed"] = disturbed
    if disturbed:
        print("\n== runs that look disturbed (max > 2x median)")
        for d in disturbed:
            print("  " + d)
    path = os.path.join(OUT_DIR, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
