//! OSTEP's "where is my code, heap, stack", asked of the real machine: print
//! the three addresses, then ask the VMM (via `whereis`) where each lives.
#![no_std]
#![no_main]

use abi::msg::{HPA_NEEDS_CAP, HPA_OK, WHEREIS_NO_VMM, WHEREIS_OK};
use ulib::{WhereisAnswer, alloc::malloc, getpid, pattern, println, whereis};

ulib::entry!(main);

fn show(what: &str, gva: u64, a: &WhereisAnswer) {
    match a.status {
        WHEREIS_OK => {
            let hpa = match a.hpa_status {
                HPA_OK => alloc_fmt_hex(a.hpa),
                HPA_NEEDS_CAP => Hex::Text("unavailable (needs CAP_SYS_ADMIN)"),
                _ => Hex::Text("unavailable"),
            };
            println!(
                "{what:5}: GVA {gva:#x} -> GPA {:#x} -> HPA {hpa} ({} KiB guest page, {} levels walked)",
                a.gpa,
                a.guest_page_size / 1024,
                a.levels
            );
        }
        WHEREIS_NO_VMM => println!(
            "{what:5}: GVA {gva:#x} -> GPA {:#x} (no microvmm VMM to ask for HPA)",
            a.gpa
        ),
        s => println!("{what:5}: GVA {gva:#x}: whereis status {s}"),
    }
}

enum Hex {
    Num(u64),
    Text(&'static str),
}
fn alloc_fmt_hex(v: u64) -> Hex {
    Hex::Num(v)
}
impl core::fmt::Display for Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Hex::Num(v) => write!(f, "{v:#x}"),
            Hex::Text(t) => f.write_str(t),
        }
    }
}

fn main(_arg: u64) -> i64 {
    let code = main as *const () as u64;
    let heap = malloc(64) as u64;
    if heap == 0 {
        println!("malloc failed");
        return 1;
    }
    // A pattern the VMM reads back through the GPA and HVA it computes.
    let value = 0x6d69_6372_6f76_6d00 | getpid() as u64;
    if pattern(heap, value) != 0 {
        println!("pattern write failed");
        return 1;
    }
    let local = 7u64;
    let stack = core::hint::black_box(&local) as *const u64 as u64;
    println!("location of code : {code:#x}");
    println!("location of heap : {heap:#x}");
    println!("location of stack: {stack:#x}");
    let mut ok = true;
    for (what, gva) in [("code", code), ("heap", heap), ("stack", stack)] {
        match whereis(gva) {
            Ok(a) => show(what, gva, &a),
            Err(e) => {
                println!("{what}: whereis failed ({e})");
                ok = false;
            }
        }
    }
    if ok { 0 } else { 1 }
}
