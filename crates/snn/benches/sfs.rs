//! Criterion bench of sequential forward selection (placeholder, filled in below).
fn main() {}
