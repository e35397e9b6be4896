//! The app's log: the user's filter (`AFTERCALL_LOG`), except that the websocket
//! and HTTP libraries never log at trace, where they write out every frame's bytes
//! (the hello frame carries this device's relay credential). The relay has the same
//! filter in `aftercall_sync_server::logging`.

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

/// Logs to standard error through [`subscriber`], filtered by `AFTERCALL_LOG`
/// (errors only by default): what `aftercall` and `aftercall-window` start with.
pub fn init_from_env() {
    let filter = std::env::var("AFTERCALL_LOG").ok();
    tracing_subscriber::util::SubscriberInitExt::init(subscriber(
        filter.as_deref(),
        "error",
        std::io::stderr,
    ));
}

/// An error and its causes on one line, as a program's last words:
/// `aftercall: cannot open …: permission denied`.
pub fn last_words(e: &anyhow::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    format!("aftercall: {}", chain.join(": "))
}

/// Libraries whose trace output holds raw frames or request bytes.
pub const FRAME_LOGGING_TARGETS: [&str; 5] = [
    "tungstenite",
    "tokio_tungstenite",
    "axum::extract::ws",
    "hyper",
    "hyper_util",
];

/// A subscriber writing to `writer` what `filter` (the user's directives,
/// `default` when unset or unreadable) lets through, never the frame-logging
/// libraries' trace.
pub fn subscriber<W>(
    filter: Option<&str>,
    default: &str,
    writer: W,
) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let chosen = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let cap = FRAME_LOGGING_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::DEBUG),
    );
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_filter(tracing_subscriber::filter::FilterExt::and(chosen, cap));
    Registry::default().with(layer)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(filter: &str) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = subscriber(Some(filter), "info", move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "tungstenite::protocol::frame", "payload: 0xsecret-frame");
            tracing::trace!(target: "tokio_tungstenite", "secret-tokio");
            tracing::trace!(target: "axum::extract::ws", "secret-axum");
            tracing::trace!(target: "hyper::proto::h1", "secret-hyper");
            tracing::debug!(target: "tungstenite::protocol", "handshake done");
            tracing::trace!(target: "aftercall_app::sync", "own trace");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn trace_everywhere_still_keeps_frames_out() {
        for filter in [
            "trace",
            "tungstenite=trace,tokio_tungstenite=trace,hyper=trace",
            "tungstenite::protocol::frame=trace,axum::extract::ws=trace,hyper::proto=trace",
        ] {
            let text = logged(filter);
            assert!(!text.contains("secret"), "{filter}: {text}");
        }
        let text = logged("trace");
        assert!(text.contains("own trace"), "{text}");
        assert!(text.contains("handshake done"), "debug stays: {text}");
    }

    #[test]
    fn an_unreadable_filter_falls_back_to_the_default() {
        let text = logged("=");
        assert!(!text.contains("own trace"), "{text}");
    }
}
