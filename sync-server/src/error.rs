//! The relay's error type; what reaches a client never shows internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What went wrong inside the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "the relay database failed: {0}; check the --db path is writable and the disk not full"
    )]
    Database(#[from] rusqlite::Error),
    #[error("the PostgreSQL database failed: {}; check that it runs and that --db reaches it", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no connection to the PostgreSQL database: {0}; check that it runs and that --db reaches it")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(
        "the relay database has schema {found}, newer than this relay's {known}; update the relay"
    )]
    NewerSchema { found: i64, known: usize },
    #[error("PostgreSQL runs with synchronous_commit = off, so an acknowledged entry could be lost in a crash; set it to on for the relay's database")]
    NotDurable,
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// The account was re-keyed while the request was on its way: nothing is
    /// stored under it any more.
    #[error("the account moved to a new key")]
    AccountMoved,
    #[error("a background task failed: {0}")]
    Task(String),
}

/// What the server said, with its SQLSTATE, rather than the bare "db error".
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the relay failed; try again later",
        )
            .into_response()
    }
}
