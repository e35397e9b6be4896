//! One integration-test binary: every story across crates.

mod calendar_feed;
mod cli;
mod cli_window;
mod crash;
mod interop;
#[cfg(unix)]
mod relay_process;
#[cfg(unix)]
mod relay_rekey;
#[cfg(unix)]
mod relay_web;
mod support;
#[cfg(unix)]
mod sync_attachments;
mod sync_checkpoint;
mod sync_checkpoint_quota;
mod sync_converge;
#[cfg(unix)]
mod sync_devices;
#[cfg(unix)]
mod sync_dos;
#[cfg(unix)]
mod sync_logs;
mod sync_merge;
mod sync_pair;
#[cfg(unix)]
mod sync_postgres;
mod sync_random;
mod sync_real_data;
#[cfg(unix)]
mod sync_rekey;
mod sync_relay;
mod sync_security;
mod sync_support;
mod sync_tls;
