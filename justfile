# Every routine task. `just` is a convenience: each recipe is one plain
# command you can also type yourself.

default:
    @just --list

# Run every test of the book's crates (the README's test command)
test:
    cargo test --workspace

# Formatting and clippy, as CI checks them
lint:
    cargo fmt --all --check
    cd exercises && cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format everything
fmt:
    cargo fmt --all
    cd exercises && cargo fmt --all

# Build the book into book/book
book:
    mdbook build book

# Serve the book at http://localhost:3000, rebuilding on change
book-serve:
    mdbook serve book

# List the exercises and which are done
exercises:
    scripts/exercises list

# Run one exercise's tests
exercise NAME:
    scripts/exercises test {{NAME}}

# Print one exercise's hint
hint NAME:
    scripts/exercises hint {{NAME}}

# Prove every starting file fails and every reference solution passes
check-exercises:
    scripts/exercises check

# Everything CI runs
ci:
    bash .ci/run

# Run every benchmark (release build) and write the results into the book
bench:
    cargo build --release -p bench -p cloudhash -p framing -p ftp-architectures
    cargo run --release -p bench --bin bench_all

# A short run of every benchmark (under two minutes); writes target/bench-quick, not the book
bench-quick:
    cargo build --release -p bench -p cloudhash -p framing -p ftp-architectures
    cargo run --release -p bench --bin bench_all -- --quick --out target/bench-quick
