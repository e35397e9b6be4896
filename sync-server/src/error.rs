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
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    #[error("a background task failed: {0}")]
    Task(String),
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
