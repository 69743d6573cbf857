//! Part 2: non-blocking IO and multiplexing.
//!
//! The binaries in `src/bin/` each teach one idea and keep their system calls in their own
//! file; this library holds only code that several of them share.

/// Shared by the `multiplex_*` echo servers (chapter *Multiplexing Connections*).
pub mod multiplex;
