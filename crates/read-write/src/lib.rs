//! Part 1 of the book: exchanging data over a connection.
//!
//! Every example is a binary of its own, readable top to bottom; nothing is
//! shared between them, so this library is empty.
//!
//! - Exchanging Data: `stream_no_boundaries`
//! - Sockets Can Read: `read_to_eof`, `read_chunks`, `readpartial`
//! - Sockets Can Write: `write_welcome`
//! - Buffering: `buffering`
