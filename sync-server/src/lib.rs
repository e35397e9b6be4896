//! # Aftercall's relay
//!
//! Stores sealed sync entries it cannot read and fans them out to the account's
//! other devices. It links only the wire protocol of `aftercall-shared` (never
//! Automerge, never a key).
//!
//! - [`launch_with_listener`]: serve on a bound listener until `shutdown` resolves
//!   (tests bind `127.0.0.1:0`); `main.rs` is a thin wrapper around it.
//! - [`store`]: the async [`RelayStore`](store::RelayStore) trait and its SQLite
//!   and PostgreSQL implementations ([`Database`] says which): accounts (credential
//!   hashes only), invites, and entries by (account, device, seq), refusing gaps and
//!   conflicting re-pushes, also when several relay nodes share one PostgreSQL.
//! - `serve`: the accept loop: hyper's HTTP/1 per connection with a header-read
//!   timeout and an idle timeout, until the connection upgrades to a session.
//! - `connections`: the descriptor budget and the caps on connections not yet
//!   authenticated (in all and per address); past a cap the oldest of those is
//!   closed to make room for the newest. `descriptors`: the file-descriptor limit.
//! - `session`: one websocket connection: hello, catch-up pages, uploads, live push;
//!   its decisions in `session::relay_core`, a state machine with no IO, and the
//!   socket loop around it carrying out its store and hub requests.
//! - `blobs`: a session's blob requests (what is held of a blob, a chunk stored, a
//!   complete blob sent chunk by chunk), within the per-file limit and the
//!   account's quota.
//! - `state`: what the routes and every session share (config, store, hub, metrics,
//!   the stop signal).
//! - `hub`: per-account fan-out, connection counts and the entry rate limit.
//! - `fanout`: on PostgreSQL, other nodes' appends signalled through the database
//!   (`LISTEN`/`NOTIFY`, with a periodic catch-up read) into the hub.
//! - `metrics`: counters behind `/metrics`.
//! - [`logging`]: the log filter, which keeps raw websocket frames out of every log.
//! - [`web`]: the phone web app's static files, served from a folder with `--web`.
//! - `test_postgres` (feature `test-support`): a real PostgreSQL for tests, a
//!   throwaway cluster per test binary or the server `AFTERCALL_TEST_POSTGRES` names.
//!
//! Invariant: every open socket holds a place in the connection budget, kept below
//! the file-descriptor limit, so the database always has descriptors; a connection
//! that never completes a request is closed by the header-read or idle timeout.
//!
//! Invariant: a `Stored` acknowledgement is sent only after the entries' transaction
//! committed durably (SQLite with `synchronous = FULL`; PostgreSQL with
//! `synchronous_commit` on, checked at start), so an acknowledged entry survives a
//! crash or shutdown.

mod blobs;
mod config;
mod connections;
mod descriptors;
mod error;
mod fanout;
mod hub;
pub mod logging;
mod metrics;
mod routes;
mod serve;
mod session;
mod state;
pub mod store;
#[cfg(all(unix, any(test, feature = "test-support")))]
pub mod test_postgres;
pub mod web;

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub use config::{BadDatabaseUrl, Config, Database, Limits, DEFAULT_PG_POOL_SIZE};
pub use error::RelayError;

/// Serves the relay on `listener` until `shutdown` resolves, then closes every
/// session and returns once they are closed. Everything acknowledged is on disk.
pub async fn launch_with_listener(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let store = store::open_with_pool(&config.db, config.pg_pool_size).await?;
    launch_with_store(config, store, listener, shutdown).await
}

/// As [`launch_with_listener`], with any store behind the trait.
pub async fn launch_with_store(
    config: Config,
    store: Arc<dyn store::RelayStore>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let descriptor_limit = descriptors::raise_limit();
    let budget = descriptors::connection_budget(descriptor_limit, config.limits.max_connections);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let limits = config.limits.clone();
    let state = state::AppState::new(config, store, stop_rx);
    let metrics = state.metrics.clone();
    if let Database::Postgres(db) = &state.config.db {
        tokio::spawn(fanout::run(
            (**db).clone(),
            state.store.clone(),
            state.hub.clone(),
            metrics.clone(),
            state.node,
            state.stop.clone(),
        ));
    }
    metrics
        .descriptor_limit
        .store(descriptor_limit.unwrap_or(0), Relaxed);
    let server = serve::Server {
        router: routes::router(state),
        connections: connections::Connections::new(budget, &limits, metrics.clone()),
        metrics,
        limits,
    };
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        descriptor_limit = ?descriptor_limit,
        connection_budget = budget,
        "relay listening"
    );
    server
        .run(listener, async move {
            shutdown.await;
            tracing::info!("shutting down: closing sessions");
            let _ = stop_tx.send(true);
        })
        .await;
    Ok(())
}
