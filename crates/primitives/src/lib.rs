//! Part 1 of the book: the primitives of socket programming.
//!
//! Every example is a binary in `src/bin/`, one file each, reading top to
//! bottom; there is no shared code to hide a system call behind. Run one with
//! `cargo run -p primitives --bin NAME`.
