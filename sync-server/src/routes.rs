//! The HTTP surface: `/sync` (websocket), `/health`, `/metrics`, and with `--web`
//! the phone web app at every other path.

use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Extension;
use axum::Router;

use crate::serve::Handshake;
use crate::session;
use crate::state::AppState;

pub(crate) fn router(state: AppState) -> Router {
    let router = Router::new()
        .route("/sync", get(sync))
        .route("/health", get(health))
        .route("/metrics", get(metrics));
    let router = match state.config.web.clone() {
        Some(web) => router.fallback(move |method, uri, headers| {
            let web = web.clone();
            async move { web.answer(method, uri, headers).await }
        }),
        None => router,
    };
    router.with_state(state)
}

/// Bytes a session reads from its socket at a time.
const SESSION_READ_BUFFER: usize = 8 * 1024;

async fn sync(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    handshake: Option<Extension<Handshake>>,
) -> impl IntoResponse {
    // Frames over our own limit are read (up to twice it) so they can be refused
    // with a clear error frame rather than a dropped connection.
    let cap = state
        .config
        .limits
        .max_message_bytes
        .saturating_mul(2)
        .max(1024);
    ws.max_message_size(cap)
        .max_frame_size(cap)
        // Idle sessions are most of a relay's sessions: read in small chunks rather
        // than hold the default 128 KiB buffer each.
        .read_buffer_size(SESSION_READ_BUFFER)
        .on_upgrade(move |socket| {
            // The connection stops counting as unauthenticated once it is a
            // websocket: its session then has HELLO_TIMEOUT to authenticate.
            if let Some(Extension(handshake)) = handshake {
                if let Some(unauthenticated) = handshake.take() {
                    unauthenticated.authenticated();
                }
            }
            session::run(socket, state)
        })
}

/// Ready when the database answers; otherwise 503, so a load balancer sends devices
/// to another node.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the relay's database does not answer\n",
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(state.store.pool()),
    )
}
