//! tests/programs/tlb.c under `--run`: the pointer chase that
//! scripts/tlb.sh uses to measure TLB reach. Timings are not asserted
//! (the machine is shared); the output's structure is, and that the cost
//! at the largest working set is not far below the cost at the smallest.

mod common;
use common::*;

/// (ws_kib, ns_per_access) of each result line.
fn results(lines: &[String]) -> Vec<(u64, f64)> {
    lines
        .iter()
        .filter(|l| l.starts_with("ws_kib="))
        .map(|l| {
            let (ws, ns) = l
                .strip_prefix("ws_kib=")
                .and_then(|r| r.split_once(" ns_per_access="))
                .unwrap_or_else(|| panic!("not 'ws_kib=N ns_per_access=X': {l}"));
            (
                ws.parse().unwrap_or_else(|e| panic!("{l}: {e}")),
                ns.parse().unwrap_or_else(|e| panic!("{l}: {e}")),
            )
        })
        .collect()
}

fn run(pages: &str) {
    let Some(prog) = build("tlb", Cc::Static) else {
        return;
    };
    let spec = format!("{} 8 page {pages}", prog.display());
    let r = microvmm(
        &["--run", &spec, "--mem", "128M", "--timeout", "60", "-q"],
        0,
    );
    let out = lines_of(&r.stdout, "tlb");
    let res = results(&out);
    // 16 KiB, 32 KiB, ... 8 MiB.
    let want: Vec<u64> = (0..10).map(|i| 16 << i).collect();
    let got: Vec<u64> = res.iter().map(|r| r.0).collect();
    assert_eq!(got, want, "{pages}: working sets\n{}", out.join("\n"));
    assert!(res.iter().all(|r| r.1 > 0.0 && r.1.is_finite()), "{res:?}");
    let (first, last) = (res[0].1, res[res.len() - 1].1);
    assert!(
        last >= first * 0.5,
        "{pages}: cost at 8 MiB ({last} ns) far below 16 KiB ({first} ns)"
    );
}

#[test]
fn tlb_chase_with_4k_guest_pages() {
    run("4k");
}

#[test]
fn tlb_chase_with_2m_guest_pages() {
    run("2m");
}
