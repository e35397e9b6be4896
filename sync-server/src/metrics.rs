//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::store::PoolStatus;

use aftercall_shared::protocol::RefusalCode;

const CODES: [RefusalCode; 19] = [
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
    RefusalCode::DeviceRemoved,
    RefusalCode::UnknownDevice,
    RefusalCode::AccountRekeyed,
    RefusalCode::CheckpointTooLarge,
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

/// The upper bounds of a [`Histogram`]'s buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Durations counted into buckets, as a Prometheus histogram.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Observations at most each bound of [`BUCKETS`] (not cumulative).
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(s, "{name}_sum {sum}\n{name}_count {count}");
    }
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
    /// Re-keys begun (every chunk of the new account's checkpoint stored) and
    /// committed.
    pub rotations_begun: AtomicU64,
    pub rotations_committed: AtomicU64,
    /// From an append's commit on another node to its signal arriving here (by the
    /// two nodes' clocks).
    pub signal_lag: Histogram,
    /// From a push's arrival at the store to its entries being durable.
    pub append_latency: Histogram,
    refusals: [AtomicU64; CODES.len()],
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

    /// Every metric, with the database pool's state when the store has a pool.
    pub fn render(&self, pool: Option<PoolStatus>) -> String {
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
            "aftercall_relay_rotations_begun_total",
            "counter",
            "Re-keys begun: every chunk of the new account's checkpoint stored.",
            self.rotations_begun.load(Relaxed).to_string(),
        );
        metric(
            "aftercall_relay_rotations_committed_total",
            "counter",
            "Re-keys committed: accounts moved to a new secret.",
            self.rotations_committed.load(Relaxed).to_string(),
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
        if let Some(pool) = pool {
            for (name, help, value) in [
                (
                    "max_size",
                    "Connections the database pool may open.",
                    pool.max_size,
                ),
                ("size", "Connections the database pool has open.", pool.size),
                (
                    "available",
                    "Open database connections idle in the pool.",
                    pool.available,
                ),
                (
                    "waiting",
                    "Requests waiting for a database connection.",
                    pool.waiting,
                ),
            ] {
                metric(
                    &format!("aftercall_relay_db_pool_{name}"),
                    "gauge",
                    help,
                    value.to_string(),
                );
            }
        }
        self.append_latency.render(
            &mut s,
            "aftercall_relay_append_seconds",
            "From a push reaching the store to its entries being durable.",
        );
        self.signal_lag.render(
            &mut s,
            "aftercall_relay_signal_lag_seconds",
            "From an append's commit on another node to its signal arriving here.",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_its_count_and_sum() {
        let h = Histogram::default();
        for ms in [1, 3, 3, 40, 9_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut s = String::new();
        h.render(&mut s, "t", "help");
        let value = |key: &str| -> String {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
                .unwrap()
                .to_string()
        };
        assert_eq!(value("t_bucket{le=\"0.001\"}"), "1");
        assert_eq!(value("t_bucket{le=\"0.005\"}"), "3");
        assert_eq!(value("t_bucket{le=\"0.05\"}"), "4");
        assert_eq!(value("t_bucket{le=\"5\"}"), "4");
        assert_eq!(value("t_bucket{le=\"+Inf\"}"), "5");
        assert_eq!(value("t_count"), "5");
        assert_eq!(value("t_sum"), "9.047");
        assert!(s.starts_with("# HELP t help\n# TYPE t histogram\n"));
    }

    #[test]
    fn every_refusal_code_is_counted() {
        let m = Metrics::default();
        let codes: Vec<RefusalCode> = (0..=u8::MAX)
            .filter_map(|v| RefusalCode::from_u8(v).ok())
            .collect();
        assert!(codes.len() >= 13);
        for code in &codes {
            m.refused(*code);
        }
        let text = m.render(None);
        for code in codes {
            let line = format!(
                "aftercall_relay_refusals_total{{reason=\"{}\"}} 1",
                code.as_str()
            );
            assert!(text.lines().any(|l| l == line), "{line}");
        }
    }

    #[test]
    fn the_pool_is_reported_only_for_a_store_with_one() {
        let m = Metrics::default();
        assert!(!m.render(None).contains("db_pool"));
        let text = m.render(Some(PoolStatus {
            max_size: 16,
            size: 3,
            available: 2,
            waiting: 0,
        }));
        for line in [
            "aftercall_relay_db_pool_max_size 16",
            "aftercall_relay_db_pool_size 3",
            "aftercall_relay_db_pool_available 2",
            "aftercall_relay_db_pool_waiting 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
}
