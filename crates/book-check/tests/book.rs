//! The book and README may only point at things that exist.

use std::fs;

use book_check::*;

#[test]
fn every_include_in_the_book_resolves_to_a_file_and_anchor() {
    let root = repo_root();
    let mut problems = Vec::new();
    for chapter in markdown_files(&root.join("book/src")) {
        let text = fs::read_to_string(&chapter).unwrap();
        for (path, anchor) in includes(&text) {
            let target = chapter.parent().unwrap().join(&path);
            let Ok(source) = fs::read_to_string(&target) else {
                problems.push(format!("{}: no file {path}", chapter.display()));
                continue;
            };
            if let Some(anchor) = anchor {
                if !has_anchor(&source, &anchor) {
                    problems.push(format!(
                        "{}: no anchor {anchor} in {path}",
                        chapter.display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_cargo_run_in_the_book_and_readme_names_a_real_binary() {
    let root = repo_root();
    let binaries = workspace_binaries(&root);
    let mut documents = markdown_files(&root.join("book/src"));
    documents.push(root.join("README.md"));
    let mut problems = Vec::new();
    let mut seen = 0;
    for document in documents {
        let Ok(text) = fs::read_to_string(&document) else {
            continue;
        };
        for (package, bin) in cargo_runs(&text) {
            seen += 1;
            if !binaries.contains(&(package.clone(), bin.clone())) {
                problems.push(format!(
                    "{}: cargo run -p {package} --bin {bin}",
                    document.display()
                ));
            }
        }
    }
    assert!(
        seen > 0,
        "found no cargo run command at all: is the parser broken?"
    );
    assert!(
        problems.is_empty(),
        "commands naming no binary:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_exercise_the_book_names_exists() {
    let root = repo_root();
    let listed = fs::read_to_string(root.join("exercises/exercises.txt")).unwrap();
    let names: Vec<&str> = listed
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let mut problems = Vec::new();
    for document in markdown_files(&root.join("book/src")) {
        let text = fs::read_to_string(&document).unwrap();
        for name in exercise_mentions(&text) {
            if !names.contains(&name.as_str()) {
                problems.push(format!("{}: exercise {name}", document.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "unknown exercises:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_chapter_file_is_in_the_summary_and_every_summary_entry_exists() {
    let root = repo_root();
    let src = root.join("book/src");
    let summary = fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let linked: Vec<String> = summary
        .split("](")
        .skip(1)
        .filter_map(|piece| piece.split(')').next())
        .map(str::to_string)
        .collect();
    let mut problems = Vec::new();
    for link in &linked {
        if !src.join(link).is_file() {
            problems.push(format!("SUMMARY.md links {link}, which does not exist"));
        }
    }
    for chapter in markdown_files(&src) {
        let relative = chapter
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // measured/*.md are not chapters: the benchmarks (crates/bench)
        // write them for measured.md and other chapters to {{#include}}.
        let fragment = relative.starts_with("measured/");
        if relative != "SUMMARY.md" && !fragment && !linked.contains(&relative) {
            problems.push(format!("{relative} is not in SUMMARY.md"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_parsers_find_what_they_should() {
    let text = "run `cargo run -p primitives --bin first_socket` (cargo run -p CRATE --bin NAME) and {{#include ../a.rs:main}} \
                then {{#include ../b.rs}} and just exercise echo_server; just hint NAME";
    assert_eq!(
        cargo_runs(text),
        [("primitives".into(), "first_socket".into())]
    );
    assert_eq!(
        includes(text),
        [
            ("../a.rs".into(), Some("main".into())),
            ("../b.rs".into(), None)
        ]
    );
    assert_eq!(exercise_mentions(text), ["echo_server"]);
    assert!(has_anchor("// ANCHOR: x\nfoo\n// ANCHOR_END: x\n", "x"));
    assert!(!has_anchor("// ANCHOR: x\nfoo\n", "x"));
}
