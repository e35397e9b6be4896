//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use aftercall_shared::protocol::RefusalCode;

const CODES: [RefusalCode; 11] = [
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
];

/// The relay's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub connections: AtomicI64,
    pub entries_stored: AtomicU64,
    pub bytes_stored: AtomicU64,
    pub entries_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub frames_sent: AtomicU64,
    pub pushes_throttled: AtomicU64,
    refusals: [AtomicU64; 11],
}

impl Metrics {
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
        let _ = writeln!(s, "# HELP aftercall_relay_refusals_total Requests refused, by reason.\n# TYPE aftercall_relay_refusals_total counter");
        for (code, n) in CODES.iter().zip(&self.refusals) {
            let _ = writeln!(
                s,
                "aftercall_relay_refusals_total{{reason=\"{}\"}} {}",
                code.as_str(),
                n.load(Relaxed)
            );
        }
        s
    }
}
