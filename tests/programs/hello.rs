//! A Rust program built with `-C target-feature=+crt-static`: Rust std's
//! start-up (it checks that fds 0-2 are open), collections, formatting,
//! and argv, printed the same natively and in the guest.

use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args {args:?}");
    let mut words = BTreeMap::new();
    for w in "the quick brown fox jumps over the lazy dog the end".split(' ') {
        *words.entry(w).or_insert(0) += 1;
    }
    println!("words {words:?}");
    let squares: u64 = (1..=20u64).map(|i| i * i).sum();
    println!("sum of squares {squares}, pi {:.9}", std::f64::consts::PI);
}
