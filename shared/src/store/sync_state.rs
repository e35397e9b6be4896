//! What sync keeps in the store besides cursors: the quarantine of entries that
//! could not be applied.

use rusqlite::params;

use super::Store;
use crate::Result;

/// An entry set aside instead of applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedEntry {
    pub device: String,
    pub seq: u64,
    pub reason: String,
    pub at: i64,
}

impl Store {
    /// Sets entry `seq` of `device` aside, keeping its sealed bytes for inspection.
    /// Quarantining the same entry again only refreshes the reason.
    pub fn quarantine_entry(
        &self,
        device: &str,
        seq: u64,
        reason: &str,
        sealed: &[u8],
    ) -> Result<()> {
        let at = self.now().timestamp_millis();
        self.conn().execute(
            "INSERT INTO quarantine (device, seq, reason, sealed, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(device, seq) DO UPDATE SET reason = excluded.reason",
            params![device, seq as i64, reason, sealed, at],
        )?;
        self.committed()
    }

    /// How many entries are quarantined.
    pub fn quarantined_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM quarantine", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Every quarantined entry, by device and position.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedEntry>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT device, seq, reason, at FROM quarantine ORDER BY device, seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(QuarantinedEntry {
                device: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
                reason: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
