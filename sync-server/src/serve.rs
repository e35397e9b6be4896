//! The relay's accept loop: each connection is admitted against the descriptor
//! budget and the caps on unauthenticated connections, then served by hyper's
//! HTTP/1 with a header-read timeout and an idle timeout until it upgrades to a
//! session. Shutdown stops accepting, lets requests finish, and waits for the
//! sessions to close.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::connections::{Admitted, ConnectionSlot, Connections, Unauthenticated};
use crate::metrics::{Metrics, Timeout};
use crate::Limits;

/// How long the accept loop pauses after an accept failed for want of descriptors
/// (or any other reason than the client's), instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long an HTTP connection may take to finish once shutdown began.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How long shutdown waits for sessions to close.
const SESSIONS_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A connection's not-yet-authenticated mark, handed to the request that upgrades
/// it: the `/sync` route takes it when the websocket is established.
#[derive(Clone)]
pub(crate) struct Handshake(Arc<Mutex<Option<Unauthenticated>>>);

impl Handshake {
    /// Takes the mark (once); `None` if already taken.
    pub fn take(&self) -> Option<Unauthenticated> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What the accept loop serves with.
pub(crate) struct Server {
    pub router: Router,
    pub connections: Arc<Connections>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

impl Server {
    /// Accepts connections until `shutdown` resolves, then closes them: HTTP
    /// connections finish their request, and sessions (told to stop through their
    /// own signal) are waited for.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let (closing_tx, closing) = watch::channel(false);
        let mut shutdown = pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        self.accept_failed(&e).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(admitted) = self.connections.admit(peer.ip()) else {
                tracing::debug!(%peer, "connection budget full of sessions: closed");
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_connection(
                stream,
                admitted,
                self.router.clone(),
                self.limits.clone(),
                self.metrics.clone(),
                closing.clone(),
            ));
        }
        drop(listener);
        let _ = closing_tx.send(true);
        let deadline = Instant::now() + SESSIONS_SHUTDOWN_GRACE;
        while self.connections.open() > 0 {
            if Instant::now() >= deadline {
                tracing::warn!(
                    open = self.connections.open(),
                    "connections still open after the shutdown grace; stopping anyway"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn accept_failed(&self, e: &io::Error) {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        // The client gave up between connecting and the accept: nothing to wait for.
        if matches!(
            e.kind(),
            ConnectionRefused | ConnectionAborted | ConnectionReset
        ) {
            return;
        }
        let n = self.metrics.accept_errors.fetch_add(1, Relaxed);
        if n % 100 == 0 {
            tracing::warn!(error = %e, failures = n + 1, "accept failed; pausing");
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}

/// Serves one connection until it closes, upgrades to a session, times out, is
/// evicted for a newer one, or shutdown ends it.
async fn serve_connection(
    stream: TcpStream,
    admitted: Admitted,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    mut closing: watch::Receiver<bool>,
) {
    let Admitted {
        slot,
        unauthenticated,
        evicted,
    } = admitted;
    let io = TokioIo::new(CountedStream {
        stream,
        _slot: slot,
    });
    let handshake = Handshake(Arc::new(Mutex::new(Some(unauthenticated))));
    let started = Instant::now();
    // Milliseconds after `started` when the last request came in.
    let last_request = Arc::new(AtomicU64::new(0));
    let service = {
        let router = TowerToHyperService::new(router);
        let last_request = last_request.clone();
        let handshake = handshake.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let at = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            last_request.store(at, Relaxed);
            request.extensions_mut().insert(handshake.clone());
            hyper::service::Service::call(&router, request)
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    // The sender goes away without a word once the connection upgrades: only a
    // message means eviction.
    let mut evicted = pin!(async move {
        if evicted.await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    let mut shutting_down: Option<Instant> = None;
    loop {
        let idle_deadline =
            started + Duration::from_millis(last_request.load(Relaxed)) + limits.idle_timeout;
        let deadline = shutting_down.map_or(idle_deadline, |d| d.min(idle_deadline));
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    if e.is_timeout() {
                        metrics.timed_out(Timeout::Header);
                    }
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            () = &mut evicted => {
                tracing::debug!("closed to make room for a newer connection");
                break;
            }
            () = tokio::time::sleep_until(deadline) => {
                if shutting_down.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                // A request that came in since moved the deadline on.
                let now_idle = started
                    + Duration::from_millis(last_request.load(Relaxed))
                    + limits.idle_timeout;
                if Instant::now() >= now_idle {
                    metrics.timed_out(Timeout::Idle);
                    tracing::debug!("idle connection closed");
                    break;
                }
            }
            _ = closing.wait_for(|closing| *closing), if shutting_down.is_none() => {
                conn.as_mut().graceful_shutdown();
                shutting_down = Some(Instant::now() + HTTP_SHUTDOWN_GRACE);
            }
        }
    }
    drop(handshake);
}

/// A socket that holds its place in the connection budget as long as it is open,
/// through the session it may become.
struct CountedStream {
    stream: TcpStream,
    _slot: ConnectionSlot,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
