//! One integration-test binary: every story across crates.

mod interop;
