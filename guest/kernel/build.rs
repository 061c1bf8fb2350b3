//! Links the kernel with our own script and embeds the user programs that
//! vmm/build.rs built before us (MICROVMM_USER_DIR). Without that variable
//! (e.g. `cargo clippy` run by hand) the kernel gets no programs.
use std::{env, fs, path::PathBuf};

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-env-changed=MICROVMM_USER_DIR");
    for arg in [
        "-nostartfiles",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-u,_start",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default());
    let user = env::var("MICROVMM_USER_DIR").ok();
    let mut src =
        String::from("/// User programs embedded in the kernel image: (name, ELF bytes).\n");
    src.push_str("pub static PROGRAMS: &[(&str, &[u8])] = &[\n");
    if let Some(user) = user {
        for p in abi::programs::names() {
            let path = PathBuf::from(&user).join(p);
            println!("cargo:rerun-if-changed={}", path.display());
            src.push_str(&format!(
                "    ({p:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            ));
        }
    }
    src.push_str("];\n");
    if let Err(e) = fs::write(out.join("programs.rs"), src) {
        panic!("cannot write programs.rs: {e}");
    }
}
