//! # Aftercall's relay
//!
//! Stores sealed sync entries it cannot read and fans them out to the account's
//! other devices. It links only the wire protocol of `aftercall-shared` (never
//! Automerge, never a key).
//!
//! - [`launch_with_listener`]: serve on a bound listener until `shutdown` resolves
//!   (tests bind `127.0.0.1:0`); `main.rs` is a thin wrapper around it.
//! - [`store`]: the [`RelayStore`](store::RelayStore) trait and its SQLite
//!   implementation: accounts (credential hashes only), invites, and entries by
//!   (account, device, seq), refusing gaps and conflicting re-pushes.
//! - `session`: one websocket connection: hello, catch-up pages, uploads, live push.
//! - `hub`: per-account fan-out, connection counts and the entry rate limit.
//! - `metrics`: counters behind `/metrics`.
//!
//! Invariant: a `Stored` acknowledgement is sent only after the entries' transaction
//! committed with `synchronous = FULL`, so an acknowledged entry survives a crash or
//! shutdown.

mod config;
mod error;
mod hub;
mod metrics;
mod routes;
mod session;
pub mod store;

use std::future::Future;
use std::sync::Arc;

pub use config::{Config, Limits};
pub use error::RelayError;

/// Serves the relay on `listener` until `shutdown` resolves, then closes every
/// session and returns once they are closed. Everything acknowledged is on disk.
pub async fn launch_with_listener(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let store = store::SqliteStore::open(&config.db)?;
    launch_with_store(config, Arc::new(store), listener, shutdown).await
}

/// As [`launch_with_listener`], with any store behind the trait.
pub async fn launch_with_store(
    config: Config,
    store: Arc<dyn store::RelayStore>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let state = routes::AppState::new(config, store, stop_rx);
    let app = routes::router(state);
    tracing::info!(addr = ?listener.local_addr().ok(), "relay listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing sessions");
            let _ = stop_tx.send(true);
        })
        .await
        .map_err(RelayError::Io)
}
