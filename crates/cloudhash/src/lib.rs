//! CloudHash.
