//! One integration-test binary: every story across crates.

mod cli;
mod crash;
mod interop;
mod support;
mod sync_converge;
#[cfg(unix)]
mod sync_dos;
mod sync_random;
mod sync_relay;
mod sync_security;
mod sync_support;
mod sync_tls;
