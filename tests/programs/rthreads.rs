//! Rust std::thread on the guest kernel: scoped and spawned threads, a
//! Mutex, a channel, a Condvar, a panic caught at join; with the argument
//! "panic", the main thread panics and the process exits 101.
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("panic") {
        let h = thread::spawn(|| 5);
        let v = h.join().unwrap();
        panic!("main panics after joining {}", v);
    }
    let total = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..6)
        .map(|i| {
            let total = Arc::clone(&total);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *total.lock().unwrap() += 1;
                }
                i * 2
            })
        })
        .collect();
    let back: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!("mutex: {} (want 60000), joined {back}", total.lock().unwrap());

    let (tx, rx) = mpsc::channel();
    for id in 0..3u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for k in 0..100u64 {
                tx.send(id * 1000 + k).unwrap();
            }
        });
    }
    drop(tx);
    let sum: u64 = rx.iter().sum();
    println!("channel: {sum} (want 314850)");

    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let h = thread::spawn(move || {
        let (m, c) = &*p2;
        *m.lock().unwrap() = true;
        c.notify_one();
    });
    let (m, c) = &*pair;
    let mut ready = m.lock().unwrap();
    while !*ready {
        ready = c.wait(ready).unwrap();
    }
    drop(ready);
    h.join().unwrap();
    println!("condvar: woken");

    let mut counts = [0u32; 4];
    thread::scope(|s| {
        for (i, c) in counts.iter_mut().enumerate() {
            s.spawn(move || *c = i as u32 + 1);
        }
    });
    println!("scoped: {counts:?}");

    let named = thread::Builder::new()
        .name("worker".into())
        .spawn(|| thread::current().name().map(String::from))
        .unwrap();
    println!("named: {:?}", named.join().unwrap());

    std::panic::set_hook(Box::new(|_| {}));
    let r = thread::spawn(|| panic!("a thread panics")).join();
    println!("a thread's panic is caught at join: {}", r.is_err());
}
