#!/usr/bin/env python3
"""Table and chart of scripts/tlb.sh's runs (standard library only).

Usage: tlb_chart.py DIR LABEL...  reads DIR/LABEL.txt (tests/programs/tlb.c
output), prints a Markdown table (ns per access, one column per run) and
the guest 4 KiB / 2 MiB cost ratios at the largest working set, and writes
DIR/chart.svg: access cost against working set, log-log, one line per run.
"""
import math
import re
import sys

LINE = re.compile(r"ws_kib=(\d+) ns_per_access=([0-9.]+)")
COLOURS = ["#000000", "#777777", "#1f77b4", "#aec7e8", "#d62728", "#ff9896", "#2ca02c", "#98df8a"]


def parse(path):
    """{ws_kib: ns} from one run's output."""
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.search(line)
            if m:
                out[int(m.group(1))] = float(m.group(2))
    return out


def size(kib):
    return f"{kib // (1024 * 1024)} GiB" if kib >= 1 << 20 else f"{kib // 1024} MiB" if kib >= 1024 else f"{kib} KiB"


def table(runs):
    sets = sorted({k for r in runs.values() for k in r})
    rows = ["| working set | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    for ws in sets:
        cells = [f"{runs[l][ws]:.1f}" if ws in runs[l] else "" for l in runs]
        rows.append(f"| {size(ws)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def ratios(runs):
    """Cost at the largest set: guest 4 KiB over guest 2 MiB, per host backing."""
    out = []
    pairs = [("native-4k", "native-thp", "native (host 4 KiB / THP via madvise)")]
    for b in ["4k", "thp", "hugetlb"]:
        pairs.append((f"host-{b}-guest-4k", f"host-{b}-guest-2m", f"host {b}"))
    for small, big, what in pairs:
        if small in runs and big in runs and runs[small] and runs[big]:
            ws = max(set(runs[small]) & set(runs[big]))
            a, b = runs[small][ws], runs[big][ws]
            out.append(f"- {what}: at {size(ws)} {a:.1f} ns with 4 KiB pages vs {b:.1f} ns with 2 MiB: ratio {a / b:.2f}")
    return "\n".join(out)


def chart(runs, path):
    w, h, left, right, top, bottom = 760, 440, 70, 200, 30, 50
    pts = [(k, v) for r in runs.values() for k, v in r.items() if v > 0]
    if not pts:
        return
    x0, x1 = math.log2(min(k for k, _ in pts)), math.log2(max(k for k, _ in pts))
    y0, y1 = math.log10(min(v for _, v in pts)), math.log10(max(v for _, v in pts))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 0.1)
    X = lambda k: left + (math.log2(k) - x0) / (x1 - x0) * (w - left - right)
    Y = lambda v: h - bottom - (math.log10(v) - y0) / (y1 - y0) * (h - top - bottom)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{left}" y="18" font-size="13">Pointer chase, one access per 4 KiB page: ns per access vs working set (log-log)</text>']
    for e in range(int(x0), int(x1) + 1, 2):
        x = X(2 ** e)
        s.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - bottom}" stroke="#eee"/>')
        s.append(f'<text x="{x:.1f}" y="{h - bottom + 15}" text-anchor="middle">{size(2 ** e)}</text>')
    for e in range(math.floor(y0), math.ceil(y1) + 1):
        if y0 <= e <= y1:
            y = Y(10 ** e)
            s.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#eee"/>')
            s.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g} ns</text>')
    s.append(f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" stroke="#444"/>')
    s.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">working set</text>')
    for i, (label, r) in enumerate(runs.items()):
        c = COLOURS[i % len(COLOURS)]
        dash = ' stroke-dasharray="5,3"' if label.endswith("2m") or label.endswith("thp") else ""
        line = " ".join(f"{X(k):.1f},{Y(v):.1f}" for k, v in sorted(r.items()) if v > 0)
        s.append(f'<polyline points="{line}" fill="none" stroke="{c}" stroke-width="1.6"{dash}/>')
        ly = top + 14 + 16 * i
        s.append(f'<line x1="{w - right + 10}" y1="{ly - 4}" x2="{w - right + 34}" y2="{ly - 4}" stroke="{c}" stroke-width="2"{dash}/>')
        s.append(f'<text x="{w - right + 40}" y="{ly}">{label}</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main():
    d, labels = sys.argv[1], sys.argv[2:]
    runs = {l: parse(f"{d}/{l}.txt") for l in labels}
    print("ns per access (lower is better); columns: where the program ran, host backing, guest page size\n")
    print(table(runs))
    print()
    print(ratios(runs))
    chart(runs, f"{d}/chart.svg")


main()
