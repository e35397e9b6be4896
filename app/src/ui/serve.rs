//! Browser mode: the same components served over Dioxus liveview on axum, for the
//! end-to-end tests and for use from a browser on the same machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use dioxus::prelude::VirtualDom;
use dioxus_liveview::{axum_socket, interpreter_glue, LiveViewPool};

use super::app::{App, AppConfig};

/// The page the browser loads: a viewport for phones and the glue that connects
/// to the app over a websocket.
pub fn index_page() -> String {
    let glue = interpreter_glue("/ws");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Aftercall</title>
<style>body{{margin:0;font-family:system-ui,sans-serif}}</style>
</head>
<body>
<div id="main"></div>
{glue}
</body>
</html>"#
    )
}

/// The browser-mode routes for the app `config` runs: `/` and the app's websocket.
/// Every tab shares its backend.
pub fn router(config: AppConfig) -> Router {
    let pool = Arc::new(LiveViewPool::new());
    let page = index_page();
    Router::new()
        .route("/", get(move || std::future::ready(Html(page.clone()))))
        .route(
            "/ws",
            get(move |ws: WebSocketUpgrade| {
                let pool = pool.clone();
                let config = config.clone();
                async move {
                    ws.on_upgrade(move |socket| async move {
                        let result = pool
                            .launch_virtualdom(axum_socket(socket), move || {
                                VirtualDom::new(App).with_root_context(config)
                            })
                            .await;
                        if let Err(e) = result {
                            tracing::debug!("browser session ended: {e:?}");
                        }
                    })
                }
            }),
        )
}

/// Serves the app on `listen` until interrupted; once listening, `on_ready` is
/// told the bound address (port 0 picks a free one).
pub fn serve(
    data_dir: PathBuf,
    listen: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    crate::owner_only::create_dir_all(&data_dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let platform = crate::platform::Platform::new(data_dir.clone(), false, false);
        let config = AppConfig::start(platform, data_dir, true);
        // A bad data directory fails here, not in the browser.
        config.backend.opened().await?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        on_ready(listener.local_addr()?);
        let sync = config.sync.clone();
        axum::serve(listener, router(config))
            .with_graceful_shutdown(shutdown())
            .await?;
        if let Some(sync) = sync {
            sync.stop();
        }
        Ok(())
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
