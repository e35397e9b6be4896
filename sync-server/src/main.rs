//! The `sync-server` binary.
fn main() {}
