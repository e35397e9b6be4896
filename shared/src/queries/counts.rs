//! How many records the store holds, as a device reports after pairing.

use crate::{Result, Store};

/// How many records the read model holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// People not deleted: as many as the People list shows.
    pub people: usize,
    /// Conversations, deleted ones included (as [`Store::interaction_count`]).
    pub interactions: usize,
    /// Events not deleted.
    pub events: usize,
}

impl Store {
    /// How many people, conversations and events are here, read from the
    /// read-model tables.
    pub fn record_counts(&self) -> Result<RecordCounts> {
        let count = |n: i64| usize::try_from(n).unwrap_or(0);
        Ok(self.conn().query_row(
            "SELECT (SELECT COUNT(*) FROM people WHERE deleted = 0),
                    (SELECT COUNT(*) FROM interactions),
                    (SELECT COUNT(*) FROM events WHERE deleted = 0)",
            [],
            |r| {
                Ok(RecordCounts {
                    people: count(r.get(0)?),
                    interactions: count(r.get(1)?),
                    events: count(r.get(2)?),
                })
            },
        )?)
    }
}
