//! A networking event: the place where several people were met.

use autosurgeon::{Hydrate, Reconcile};
use chrono::DateTime;

use super::Day;

/// One Event document.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Event {
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub place: String,
    /// ISO date (YYYY-MM-DD).
    #[autosurgeon(missing = "Default::default")]
    pub date: String,
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
}

impl Event {
    /// The day it took place: its date, or (for a record whose date cannot be read)
    /// the day it was created, in UTC.
    pub fn day(&self) -> Day {
        self.date.parse().unwrap_or_else(|_| {
            Day::new(
                DateTime::from_timestamp_millis(self.created_at)
                    .unwrap_or_default()
                    .date_naive(),
            )
        })
    }
}
