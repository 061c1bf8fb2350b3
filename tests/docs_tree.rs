//! The tree of source files in docs/architecture.md ("## The files") is
//! checked against the source tree. Pure: reads the markdown and lists
//! directories, no KVM. After a rename, `cargo test --release --test
//! docs_tree` says which entry to change.
//!
//! What "checked" means here, honestly: (1) every path the tree names as an
//! entry exists (`src/lib.rs`, `src/gdb/`, a `(+loader/)` beside it); (2)
//! every top-level module of `vmm/src` (a `NAME.rs` or a `NAME/`) has an
//! entry, as `src/NAME.rs`, `src/NAME/` or a path under it; (3) every
//! top-level module of `guest/kernel/src` (but the crate roots `lib.rs`,
//! `main.rs` and `bin/`) is named as a word in the `kernel/` entry, which
//! lists them in prose (a loose check: a word anywhere in the entry,
//! e.g. `fs` in "syscall/ (fs, ...)", counts); (4) every Rust file under those two `src/`
//! directories opens with a `//!` paragraph, the header an entry's
//! description summarises. Whether a one-line description says the same
//! as the header is not machine-checkable and is left to review: the
//! test only makes sure both exist and point at each other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

/// Files known to lack their `//!` header, left to the helpers editing
/// them when this test was written; the test fails once one has it, so
/// that the list only shrinks.
const NO_HEADER_YET: &[&str] = &["vmm/src/devices/console/lines/tests.rs"];

/// One entry of the tree: its path from the repository root, and its
/// description (continuation lines included).
#[derive(Debug)]
struct Entry {
    path: String,
    also: Option<String>,
    text: String,
}

/// The fenced block under "## The files".
fn block(md: &str) -> Vec<&str> {
    let mut lines = md.lines().skip_while(|l| l.trim() != "## The files");
    let _ = lines.by_ref().find(|l| l.starts_with("```"));
    lines.take_while(|l| !l.starts_with("```")).collect()
}

/// The entries of the block. An entry starts at column 0 (a top-level
/// path) or 2 (a path under the last top-level directory); a line indented
/// further continues the previous entry's description.
fn entries(block: &[&str]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut top = String::new();
    for line in block {
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        if indent > 2 || rest.is_empty() {
            if let Some(e) = out.last_mut() {
                e.text.push(' ');
                e.text.push_str(rest);
            }
            continue;
        }
        let mut words = rest.split_whitespace();
        let first = words.next().unwrap_or_default();
        let path = if indent == 0 {
            if first.ends_with('/') {
                top = first.to_string();
            }
            first.to_string()
        } else {
            format!("{top}{first}")
        };
        let text: Vec<&str> = words.collect();
        let also = text
            .first()
            .and_then(|w| w.strip_prefix("(+"))
            .and_then(|w| w.strip_suffix(')'))
            .map(|d| match path.rfind('/') {
                Some(i) => format!("{}{d}", &path[..=i]),
                None => d.to_string(),
            });
        out.push(Entry {
            path,
            also,
            text: text.join(" "),
        });
    }
    out
}

/// The top-level modules of a crate's `src/`: file stems and directories.
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                Some(name)
            } else {
                name.strip_suffix(".rs").map(str::to_string)
            }
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir)
        .expect("a source directory")
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// What is wrong with the tree in `md` against the repository at `root`.
fn problems(root: &Path, md: &str) -> Vec<String> {
    let entries = entries(&block(md));
    let mut out = Vec::new();
    if entries.len() < 20 {
        out.push(format!(
            "only {} entries found under ## The files",
            entries.len()
        ));
    }
    for e in &entries {
        for p in std::iter::once(&e.path).chain(&e.also) {
            if !root.join(p).exists() {
                out.push(format!("the tree names {p}, which does not exist"));
            }
        }
    }
    let vmm: Vec<&str> = entries
        .iter()
        .flat_map(|e| std::iter::once(&e.path).chain(&e.also))
        .filter_map(|p| p.strip_prefix("vmm/src/"))
        .collect();
    for m in modules(&root.join("vmm/src")) {
        let named = vmm.iter().any(|p| {
            *p == format!("{m}.rs") || p.split('/').next() == Some(m.as_str()) && p.contains('/')
        });
        if !named {
            out.push(format!(
                "vmm/src: module {m} has no entry (add `  src/{m}.rs` or `  src/{m}/` under vmm/)"
            ));
        }
    }
    let kernel = entries
        .iter()
        .find(|e| e.path == "guest/kernel/")
        .map_or(String::new(), |e| e.text.clone());
    let words: BTreeSet<&str> = kernel
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    for m in modules(&root.join("guest/kernel/src")) {
        if !matches!(m.as_str(), "lib" | "main" | "bin") && !words.contains(m.as_str()) {
            out.push(format!(
                "guest/kernel/src: module {m} is not named in the kernel/ entry"
            ));
        }
    }
    let mut files = Vec::new();
    rust_files(&root.join("vmm/src"), &mut files);
    rust_files(&root.join("guest/kernel/src"), &mut files);
    for f in files {
        let name = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        let headed = std::fs::read_to_string(&f).is_ok_and(|t| t.starts_with("//!"));
        match (headed, NO_HEADER_YET.contains(&name.as_str())) {
            (false, false) => out.push(format!("{name} does not open with a //! paragraph")),
            (true, true) => out.push(format!(
                "{name} has its header now: take it off NO_HEADER_YET"
            )),
            _ => {}
        }
    }
    out
}

#[test]
fn the_architecture_tree_matches_the_source_tree() {
    let root = repo();
    let md = std::fs::read_to_string(root.join("docs/architecture.md"))
        .expect("read docs/architecture.md");
    let found = problems(&root, &md);
    assert!(
        found.is_empty(),
        "docs/architecture.md's tree of files is out of date:\n{}",
        found.join("\n")
    );
}

/// The checks find what they are meant to: a stale entry, a module with
/// none, a kernel module the prose does not name.
#[test]
fn a_stale_tree_is_found() {
    let root = repo();
    let md = "## The files\n\n```\nvmm/\n  src/lib.rs          run\n  src/gone.rs (+gone/) x\n\
              guest/\n  kernel/             boot, entry\n```\n";
    let e = entries(&block(md));
    assert_eq!(e.len(), 5, "{e:?}");
    assert_eq!(e[2].path, "vmm/src/gone.rs");
    assert_eq!(e[2].also.as_deref(), Some("vmm/src/gone/"));
    let found = problems(&root, md);
    let has = |s: &str| found.iter().any(|f| f.contains(s));
    assert!(
        has("names vmm/src/gone.rs, which does not exist"),
        "{found:#?}"
    );
    assert!(
        has("names vmm/src/gone/, which does not exist"),
        "{found:#?}"
    );
    assert!(has("module paging has no entry"), "{found:#?}");
    assert!(!has("module lib has no entry"), "{found:#?}");
    assert!(has("module mm is not named"), "{found:#?}");
    assert!(!has("module boot is not named"), "{found:#?}");
}
