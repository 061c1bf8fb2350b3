//! Every repository path the README, docs/ and SECURITY.md name exists, so
//! a rename or a removal cannot leave the docs pointing at nothing. Pure:
//! reads the markdown and walks the source tree, no KVM.
//!
//! What counts as a path: in inline code (`like/this.rs`) and in link
//! targets, a word with a `/` that ends in a source extension or `/`, or
//! starts with a top-level directory; a bare file name with a source
//! extension (`pipe.rs`). Rooted words (`vmm/src/lib.rs`) must exist as
//! given; others (`mm/cow.rs`, `pipe.rs`) must be the tail of some path in
//! the tree. Inside fenced code blocks only rooted words are checked (the
//! rest there is commands and output). Host paths (`/dev/kvm`) and build
//! output (`target/...`) are not the repository's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level entries of the repository a rooted path starts with.
const ROOTS: &[&str] = &[
    "vmm", "guest", "tests", "scripts", "docs", "fuzz", "bench", ".ci",
];

/// Extensions of files a bare name or a relative path may name.
const EXTENSIONS: &[&str] = &[".rs", ".sh", ".py", ".c", ".h", ".md", ".json", ".toml"];

/// Named in the docs, but not the repository's: a header of the host's
/// Linux headers, and what `npm ci` installs.
const NOT_OURS: &[&str] = &["asm/unistd_64.h", "tests/browser/node_modules"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

/// Every file and directory under `dir`, as paths relative to the root
/// ("vmm/src/lib.rs", "vmm/src/"), build output and .git left out.
fn tree(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if matches!(name.as_str(), ".git" | "target" | "node_modules") {
            continue;
        }
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            out.insert(format!("{rel}/"));
            tree(root, &path, out);
        } else {
            out.insert(rel);
        }
    }
}

/// The markdown files this test reads: README, SECURITY and docs/*.md.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md"), root.join("SECURITY.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// (fenced, text) pieces of a markdown file: fenced code blocks, and the
/// prose between them.
fn pieces(md: &str) -> Vec<(bool, String)> {
    let mut out = vec![(false, String::new())];
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            let fenced = !out.last().expect("a piece").0;
            out.push((fenced, String::new()));
            continue;
        }
        let last = &mut out.last_mut().expect("a piece").1;
        last.push_str(line);
        last.push('\n');
    }
    out
}

/// The inline code spans and link targets of prose.
fn spans(prose: &str) -> Vec<String> {
    let mut out: Vec<String> = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    for part in prose.split("](").skip(1) {
        if let Some(end) = part.find(')') {
            out.push(part[..end].to_string());
        }
    }
    out
}

/// A word as a path to check, or None if it is not one.
fn candidate(word: &str, fenced: bool) -> Option<String> {
    let w = word
        .trim_start_matches(['"', '\'', '(', '['])
        .trim_end_matches(['"', '\'', ')', ']', ',', ';', ':', '.']);
    if w.is_empty()
        || w.starts_with('/')
        || w.starts_with("target/")
        || w.contains("://")
        || w.contains('*')
        || w.starts_with('#')
        || !w
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c))
    {
        return None;
    }
    let rooted = ROOTS
        .iter()
        .any(|r| w == *r || w.starts_with(&format!("{r}/")))
        || matches!(w, "README.md" | "SECURITY.md" | "Cargo.toml" | "Cargo.lock");
    let source = EXTENSIONS.iter().any(|x| w.ends_with(x));
    let slashed = w.contains('/');
    let wanted = if fenced {
        rooted && slashed
    } else {
        rooted || source || (slashed && w.ends_with('/'))
    };
    (wanted && !NOT_OURS.contains(&w)).then(|| w.to_string())
}

/// Whether `path`, named in `doc`, is in the tree.
fn exists(tree: &BTreeSet<String>, root: &Path, doc: &Path, path: &str) -> bool {
    let dir = path.trim_end_matches('/');
    let rooted = ROOTS
        .iter()
        .any(|r| dir == *r || dir.starts_with(&format!("{r}/")));
    // A link target is relative to the document; anything else may be
    // rooted, or the tail of a path.
    let beside = doc.parent().expect("a directory").join(path);
    if beside.exists() || root.join(path).exists() {
        return true;
    }
    !rooted
        && tree.iter().any(|t| {
            let t = t.trim_end_matches('/');
            t == dir || t.ends_with(&format!("/{dir}"))
        })
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = repo();
    let mut files = BTreeSet::new();
    tree(&root, &root, &mut files);
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in documents(&root) {
        let md =
            std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("read {}: {e}", doc.display()));
        for (fenced, text) in pieces(&md) {
            let words: Vec<String> = if fenced {
                text.split_whitespace().map(str::to_string).collect()
            } else {
                spans(&text)
                    .iter()
                    .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .collect()
            };
            for w in words {
                let Some(path) = candidate(&w, fenced) else {
                    continue;
                };
                checked += 1;
                if !exists(&files, &root, &doc, &path) {
                    let name = doc.strip_prefix(&root).unwrap_or(&doc).display();
                    missing.push(format!("{name}: `{path}`"));
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "paths named in the docs that do not exist:\n{}",
        missing.join("\n")
    );
    // The scan finds what it is meant to: the docs name hundreds of paths.
    assert!(checked > 100, "only {checked} paths found in the docs");
}

#[test]
fn a_stale_path_is_found() {
    let root = repo();
    let mut files = BTreeSet::new();
    tree(&root, &root, &mut files);
    let doc = root.join("README.md");
    let md = "The decoder (`devices/hypercall.rs`) and `vmm/src/lib.rs`, see [x](docs/ci.md).\n";
    let found: Vec<String> = pieces(md)
        .iter()
        .flat_map(|(_, t)| spans(t))
        .filter_map(|w| candidate(&w, false))
        .collect();
    assert_eq!(
        found,
        ["devices/hypercall.rs", "vmm/src/lib.rs", "docs/ci.md"]
    );
    let missing: Vec<&String> = found
        .iter()
        .filter(|p| !exists(&files, &root, &doc, p))
        .collect();
    assert_eq!(missing, [&"devices/hypercall.rs".to_string()]);
    // Host paths and build output are not the repository's.
    assert_eq!(candidate("/dev/kvm", false), None);
    assert_eq!(candidate("target/tmp/programs/", false), None);
}
