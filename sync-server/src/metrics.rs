//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use aftercall_shared::protocol::RefusalCode;

const CODES: [RefusalCode; 15] = [
    RefusalCode::BadMessage,
    RefusalCode::TooLarge,
    RefusalCode::Unauthorized,
    RefusalCode::UnknownAccount,
    RefusalCode::RegistrationClosed,
    RefusalCode::RateLimited,
    RefusalCode::TooManyConnections,
    RefusalCode::Gap,
    RefusalCode::Conflict,
    RefusalCode::Unavailable,
    RefusalCode::UnsupportedVersion,
    RefusalCode::QuotaExceeded,
    RefusalCode::FileTooLarge,
    RefusalCode::BlobNotFound,
    RefusalCode::BlobMismatch,
];

/// Why a connection not yet authenticated was closed to make room.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Eviction {
    /// The descriptor budget was full.
    Budget,
    /// Too many unauthenticated connections in all.
    Unauthenticated,
    /// Too many from one address.
    PerAddress,
}

/// Why an HTTP connection was closed for taking too long.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Timeout {
    /// Its request headers were not in within the header-read timeout.
    Header,
    /// No new request within the idle timeout.
    Idle,
}

/// The relay's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Open device sessions (upgraded websockets).
    pub connections: AtomicI64,
    /// Open sockets, sessions included.
    pub open_connections: AtomicI64,
    /// Sockets not yet upgraded to a session.
    pub unauthenticated_connections: AtomicI64,
    /// Open sockets the relay allows, below its file descriptor limit.
    pub connection_budget: AtomicU64,
    /// The soft file descriptor limit in force (0: unlimited or unknown).
    pub descriptor_limit: AtomicU64,
    pub connections_accepted: AtomicU64,
    /// Connections closed at once because the budget was full of sessions.
    pub connections_refused: AtomicU64,
    /// Accepts that failed (for example out of descriptors).
    pub accept_errors: AtomicU64,
    evictions: [AtomicU64; 3],
    timeouts: [AtomicU64; 2],
    pub entries_stored: AtomicU64,
    pub bytes_stored: AtomicU64,
    pub entries_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub frames_sent: AtomicU64,
    pub pushes_throttled: AtomicU64,
    /// Times the PostgreSQL listener connected (1 when it never had to reconnect).
    pub listener_connects: AtomicU64,
    /// Other nodes' appends signalled through the database.
    pub signals_received: AtomicU64,
    /// Blob chunks received, stored anew, and sent to devices.
    pub blob_chunks_received: AtomicU64,
    pub blob_chunks_stored: AtomicU64,
    pub blob_chunks_sent: AtomicU64,
    refusals: [AtomicU64; 15],
}

impl Metrics {
    pub fn evicted(&self, why: Eviction) {
        self.evictions[why as usize].fetch_add(1, Relaxed);
    }

    pub fn timed_out(&self, why: Timeout) {
        self.timeouts[why as usize].fetch_add(1, Relaxed);
    }

    pub fn refused(&self, code: RefusalCode) {
        if let Some(i) = CODES.iter().position(|c| *c == code) {
            self.refusals[i].fetch_add(1, Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "aftercall_relay_connections",
            "gauge",
            "Open device sessions.",
            self.connections.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_open_connections",
            "gauge",
            "Open sockets, sessions included.",
            self.open_connections.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_unauthenticated_connections",
            "gauge",
            "Sockets not yet upgraded to a session.",
            self.unauthenticated_connections.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_connection_budget",
            "gauge",
            "Open sockets allowed, below the file descriptor limit.",
            self.connection_budget.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_descriptor_limit",
            "gauge",
            "The soft file descriptor limit in force (0: unlimited or unknown).",
            self.descriptor_limit.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_connections_accepted_total",
            "counter",
            "Connections accepted.",
            self.connections_accepted.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_connections_refused_total",
            "counter",
            "Connections closed at once because the budget was full of sessions.",
            self.connections_refused.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_accept_errors_total",
            "counter",
            "Accepts that failed (for example out of file descriptors).",
            self.accept_errors.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_entries_stored_total",
            "counter",
            "Sealed entries stored.",
            self.entries_stored.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_bytes_stored_total",
            "counter",
            "Sealed bytes stored.",
            self.bytes_stored.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_entries_sent_total",
            "counter",
            "Entries sent to devices (catch-up and live).",
            self.entries_sent.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_bytes_received_total",
            "counter",
            "Frame bytes received.",
            self.bytes_received.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_bytes_sent_total",
            "counter",
            "Frame bytes sent.",
            self.bytes_sent.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_frames_received_total",
            "counter",
            "Frames received.",
            self.frames_received.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_frames_sent_total",
            "counter",
            "Frames sent.",
            self.frames_sent.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_pushes_throttled_total",
            "counter",
            "Uploads held back to keep an account under its entry rate.",
            self.pushes_throttled.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_listener_connects_total",
            "counter",
            "Times the PostgreSQL listener for other nodes' entries connected.",
            self.listener_connects.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_signals_received_total",
            "counter",
            "Other relay nodes' appends signalled through the database.",
            self.signals_received.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_blob_chunks_received_total",
            "counter",
            "Blob chunks uploaded by devices.",
            self.blob_chunks_received.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_blob_chunks_stored_total",
            "counter",
            "Blob chunks stored (not held already).",
            self.blob_chunks_stored.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_blob_chunks_sent_total",
            "counter",
            "Blob chunks sent to devices.",
            self.blob_chunks_sent.load(Relaxed).to_string(),
        );
        let _ = writeln!(s, "# HELP aftercall_relay_refusals_total Requests refused, by reason.\n# TYPE aftercall_relay_refusals_total counter");
        for (code, n) in CODES.iter().zip(&self.refusals) {
            let _ = writeln!(
                s,
                "aftercall_relay_refusals_total{{reason=\"{}\"}} {}",
                code.as_str(),
                n.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP aftercall_relay_connections_evicted_total Unauthenticated connections closed to make room for newer ones, by cap.\n# TYPE aftercall_relay_connections_evicted_total counter");
        for (reason, n) in ["budget", "unauthenticated", "per_address"]
            .iter()
            .zip(&self.evictions)
        {
            let _ = writeln!(
                s,
                "aftercall_relay_connections_evicted_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP aftercall_relay_connections_timed_out_total HTTP connections closed for taking too long, by timeout.\n# TYPE aftercall_relay_connections_timed_out_total counter");
        for (reason, n) in ["header", "idle"].iter().zip(&self.timeouts) {
            let _ = writeln!(
                s,
                "aftercall_relay_connections_timed_out_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        s
    }
}
