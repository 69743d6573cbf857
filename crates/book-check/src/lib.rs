//! Checks that keep the book and the README from drifting away from the code.
//!
//! The tests in `tests/book.rs` run with `cargo test --workspace`, so a
//! chapter that includes a file or anchor that no longer exists, or tells the
//! reader to run `cargo run -p CRATE --bin NAME` for a binary that does not
//! exist, fails CI before a reader ever meets it.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate lives in `crates/book-check`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Every markdown file under `dir`, recursively, sorted.
pub fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The `{{#include PATH}}` / `{{#include PATH:ANCHOR}}` directives in `text`,
/// as (path, anchor) pairs. Line-number ranges (`:10:20`) are reported with
/// no anchor.
pub fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    for piece in text.split("{{#include ").skip(1) {
        let Some(end) = piece.find("}}") else {
            continue;
        };
        let target = piece[..end].trim();
        match target.split_once(':') {
            Some((path, anchor)) if !anchor.starts_with(|c: char| c.is_ascii_digit()) => {
                found.push((path.to_string(), Some(anchor.to_string())));
            }
            Some((path, _lines)) => found.push((path.to_string(), None)),
            None => found.push((target.to_string(), None)),
        }
    }
    found
}

/// The `cargo run -p CRATE --bin NAME` commands in `text`, as (crate, bin).
pub fn cargo_runs(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for piece in text.split("cargo run").skip(1) {
        let words: Vec<&str> = piece
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(|word| word.trim_matches(|c| c == '`' || c == ','))
            .collect();
        let after = |flag: &str| {
            words
                .iter()
                .position(|word| *word == flag)
                .and_then(|i| words.get(i + 1))
                .map(|word| word.to_string())
        };
        if let (Some(package), Some(bin)) = (after("-p"), after("--bin")) {
            // `cargo run -p CRATE --bin NAME` is a pattern, not a command.
            let placeholder = |word: &str| word.chars().all(|c| c.is_ascii_uppercase());
            if !placeholder(&package) && !placeholder(&bin) {
                found.push((package, bin));
            }
        }
    }
    found
}

/// The exercise names used in `just exercise NAME` / `just hint NAME`.
pub fn exercise_mentions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for verb in ["just exercise ", "just hint "] {
        for piece in text.split(verb).skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != "NAME" {
                found.push(name);
            }
        }
    }
    found
}

/// The binaries of each workspace crate: (package name, binary name).
pub fn workspace_binaries(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root.join("crates")).expect("crates/") {
        let dir = entry.expect("dir entry").path();
        let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let Some(package) = manifest
            .lines()
            .find_map(|line| line.strip_prefix("name = "))
            .map(|name| name.trim_matches('"').to_string())
        else {
            continue;
        };
        let Ok(bins) = fs::read_dir(dir.join("src/bin")) else {
            continue;
        };
        for bin in bins {
            let path = bin.expect("dir entry").path();
            if let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) {
                found.push((package.clone(), stem.to_string()));
            }
        }
    }
    found
}

/// Whether `source` has a `ANCHOR: anchor` / `ANCHOR_END: anchor` pair.
pub fn has_anchor(source: &str, anchor: &str) -> bool {
    let marks = |keyword: &str| {
        source.lines().any(|line| {
            line.split_once(keyword)
                .is_some_and(|(_, name)| name.trim() == anchor)
        })
    };
    marks("ANCHOR:") && marks("ANCHOR_END:")
}
