//! Write the synthetic seed corpora: `seeds DIR` creates DIR/TARGET/NAME
//! for each seed of `microvmm_fuzz::seeds()`.
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seeds DIR");
        std::process::exit(2);
    };
    for (target, name, bytes) in microvmm_fuzz::seeds() {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(name), bytes)?;
    }
    Ok(())
}
