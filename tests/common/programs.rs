//! The test programs and the tools they need: `tests/programs/NAME.c`
//! (or `.rs`) built with gcc, musl-gcc or rustc, cached under target/ by a
//! hash of source and flags; a missing tool is a skip, except in CI.

use std::path::PathBuf;
use std::process::Command;

/// How a test program is compiled: the toolchain and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// Plain `gcc`: dynamically linked, which `--run` refuses.
    Dynamic,
    /// `gcc -static`: ET_EXEC, glibc.
    Static,
    /// `gcc -static-pie`: ET_DYN that relocates itself.
    StaticPie,
    /// `gcc -g -O0 -static`: with debug information, for gdb (tests/gdb/).
    StaticDebug,
    /// `musl-gcc -static`: ET_EXEC, musl.
    Musl,
    /// `rustc -C target-feature=+crt-static`: a static PIE, glibc, Rust std
    /// (tests/programs/NAME.rs instead of NAME.c).
    Rust,
}

impl Cc {
    pub const STATIC: [Cc; 3] = [Cc::Static, Cc::StaticPie, Cc::Musl];

    fn tool(self) -> &'static str {
        match self {
            Cc::Musl => "musl-gcc",
            Cc::Rust => "rustc",
            _ => "gcc",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Cc::Dynamic => &["-O2"],
            Cc::Static | Cc::Musl => &["-O2", "-static"],
            Cc::StaticPie => &["-O2", "-static-pie"],
            Cc::StaticDebug => &["-g", "-O0", "-static"],
            Cc::Rust => &["-O", "-C", "target-feature=+crt-static"],
        }
    }

    /// A short name for file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Cc::Dynamic => "gcc",
            Cc::Static => "gcc-static",
            Cc::StaticPie => "gcc-static-pie",
            Cc::StaticDebug => "gcc-static-g",
            Cc::Musl => "musl-static",
            Cc::Rust => "rust-crt-static",
        }
    }
}

/// Whether this is CI (env CI=true), where a missing tool is a failure,
/// never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A test cannot run here for want of `what`: print why and return None
/// (the test then returns early: a skip), or fail in CI.
pub fn skip<T>(what: &str) -> Option<T> {
    assert!(!in_ci(), "CI=true: {what} is missing, and CI must not skip");
    eprintln!("SKIPPED: {what} is missing on this machine");
    None
}

/// Whether `tool` runs (`tool --version` exits 0).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// tests/programs/NAME.c (NAME.rs for Cc::Rust), built with `cc` into
/// target/ and cached by a hash
/// of the source and the flags; None (a skip) if the compiler is missing.
pub fn build(name: &str, cc: Cc) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(format!(
            "{name}.{}",
            if cc == Cc::Rust { "rs" } else { "c" }
        ));
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    if !have(cc.tool()) {
        return skip(&format!("{} (to build {name}.c {})", cc.tool(), cc.name()));
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&text, cc.tool(), cc.flags()).hash(&mut h);
    // target/tmp/programs/CC-HASH/NAME: the file's own name stays NAME,
    // which is argv[0]'s last part and so the process's name in the guest.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("programs")
        .join(format!("{}-{:016x}", cc.name(), h.finish()));
    std::fs::create_dir_all(&dir).expect("create target/tmp/programs/...");
    let out = dir.join(name);
    if out.exists() {
        return Some(out);
    }
    // Tests run in parallel: build under a unique name, then rename, so no
    // test ever sees a half-written binary.
    let tmp = dir.join(format!(
        "{name}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let status = Command::new(cc.tool())
        .args(cc.flags())
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", cc.tool()));
    assert!(status.success(), "{} {name}.c failed: {status}", cc.tool());
    std::fs::rename(&tmp, &out).expect("rename the built program");
    Some(out)
}

/// A built program's path as the `--run` text it goes into.
pub fn path_str(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// tests/programs/NAME.go built static (CGO_ENABLED=0) into target/, or
/// None (a skip, which fails in CI) without Go.
pub fn go_build(name: &str) -> Option<std::path::PathBuf> {
    // `go` has no --version: `go version` says whether it runs.
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return skip("go (Debian's golang-go)");
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/programs/{name}.go"));
    let bin = dir.join(name);
    let ok = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.join("cache"))
        .status()
        .expect("go build")
        .success();
    assert!(ok, "go build {name}");
    Some(bin)
}
