//! Builds the guest (user programs, then the kernel that embeds them) with
//! the installed stable toolchain for the host target, no_std, and hands the
//! ELF images to the VMM: the demo kernel is embedded with include_bytes!,
//! the test kernels are found through MICROVMM_GUEST_DIR.
//!
//! Each inner cargo gets its own target dir under OUT_DIR (sharing the outer
//! one deadlocks on its lock) and an environment cleared of the outer
//! cargo's flag variables. Its output is shown in full if it fails.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let guest = manifest.join("../guest");
    for dir in ["abi", "kernel", "memfns", "user"] {
        println!("cargo:rerun-if-changed={}", guest.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        guest.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-env-changed=MICROVMM_SKIP_GUEST");

    let guest_dir = out.join("guest");
    std::fs::create_dir_all(&guest_dir).expect("create OUT_DIR/guest");
    if env::var_os("MICROVMM_SKIP_GUEST").is_some() {
        // For helpers working on VMM-only code: an empty image, refused at run time.
        for f in [
            "kernel",
            "triple-fault",
            "spin-forever",
            "hostile",
            "amplify",
        ] {
            std::fs::write(guest_dir.join(f), b"").expect("write placeholder guest");
        }
    } else {
        let user = cargo_build(&guest, "user", &out.join("guest-user"), &[], None);
        let kernel = cargo_build(
            &guest,
            "kernel",
            &out.join("guest-kernel"),
            &["-Ccode-model=kernel", "-Crelocation-model=static"],
            Some(&user),
        );
        for f in [
            "kernel",
            "triple-fault",
            "spin-forever",
            "hostile",
            "amplify",
        ] {
            std::fs::copy(kernel.join(f), guest_dir.join(f)).expect("copy guest image");
        }
    }
    println!("cargo:rustc-env=MICROVMM_GUEST_DIR={}", guest_dir.display());
}

/// Build `package` of the guest workspace in release mode; return the
/// directory holding its binaries.
fn cargo_build(
    ws: &Path,
    package: &str,
    target_dir: &Path,
    rustflags: &[&str],
    user_dir: Option<&Path>,
) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(ws)
        .args([
            "build",
            "--release",
            "--package",
            package,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    // Clear what the outer cargo set for *its* build: flags, profiles, jobserver.
    for (k, _) in env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let outer = (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_NET_OFFLINE")
            || k.starts_with("RUSTC")
            || k == "RUSTFLAGS"
            || k == "RUSTDOCFLAGS"
            || k == "MAKEFLAGS"
            || k == "MFLAGS";
        if outer {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    if let Some(u) = user_dir {
        cmd.env("MICROVMM_USER_DIR", u);
    }
    let output = cmd.output().expect("run cargo for the guest");
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("building the guest package '{package}' failed (its full output is above)");
    }
    // Warnings of a successful inner build still reach the developer.
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        if line.starts_with("warning") && !line.contains("build failed") {
            println!("cargo:warning=guest {package}: {line}");
        }
    }
    target_dir.join(TARGET).join("release")
}
