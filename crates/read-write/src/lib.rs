//! Part 1 of the book: exchanging data over a connection.
