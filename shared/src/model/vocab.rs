//! The typed vocabulary that crosses from the domain to the screens and the command
//! line: record ids and calendar days. Each maps to serde, SQL and Automerge here
//! and nowhere else.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use chrono::NaiveDate;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as stored and printed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                String::column_result(value).map($name)
            }
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(&self.0)
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
                Ok($name(s.to_string()))
            }
        }
    };
}

id_type!(
    /// A person's id.
    PersonId
);
id_type!(
    /// A conversation's id.
    InteractionId
);
id_type!(
    /// An event's id.
    EventId
);
id_type!(
    /// A referral's id (unique within its conversation's document).
    ReferralId
);
id_type!(
    /// The id of a record of any kind (what delete and restore take).
    RecordId
);
id_type!(
    /// A meeting's id (one occurrence of a calendar's meeting).
    MeetingId
);
id_type!(
    /// An attachment's id (unique within its record's document).
    AttachmentId
);
id_type!(
    /// A calendar event's `UID`, as the calendar gives it: the same for every
    /// occurrence of a recurring meeting.
    CalendarUid
);

macro_rules! into_record_id {
    ($($name:ident),+) => {$(
        impl From<$name> for RecordId {
            fn from(id: $name) -> RecordId {
                RecordId(id.0)
            }
        }
    )+};
}
into_record_id!(PersonId, InteractionId, EventId, MeetingId);

macro_rules! ref_into_record_id {
    ($($name:ident),+) => {$(
        impl From<&$name> for RecordId {
            fn from(id: &$name) -> RecordId {
                RecordId(id.0.clone())
            }
        }
    )+};
}
ref_into_record_id!(PersonId, InteractionId, EventId, MeetingId, RecordId);

/// A calendar day with no time or zone: a follow-up's date, an event's date, the
/// day a thank-you went out. Written `YYYY-MM-DD` on disk, in documents and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(NaiveDate);

impl Day {
    pub fn new(date: NaiveDate) -> Self {
        Day(date)
    }

    /// The calendar date.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        (later.0 - self.0).num_days()
    }
}

impl std::ops::Add<chrono::Duration> for Day {
    type Output = Day;
    fn add(self, days: chrono::Duration) -> Day {
        Day(self.0 + days)
    }
}

impl std::ops::Sub<chrono::Duration> for Day {
    type Output = Day;
    fn sub(self, days: chrono::Duration) -> Day {
        Day(self.0 - days)
    }
}

impl From<NaiveDate> for Day {
    fn from(date: NaiveDate) -> Self {
        Day(date)
    }
}

impl From<Day> for NaiveDate {
    fn from(day: Day) -> NaiveDate {
        day.0
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for Day {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Day)
            .map_err(|_| Error::invalid(format!("'{s}' is not a date (YYYY-MM-DD)")))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ToSql for Day {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Day {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        text.parse()
            .map_err(|e: Error| FromSqlError::Other(Box::new(e)))
    }
}

impl Reconcile for Day {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for Day {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        s.parse()
            .map_err(|_| HydrateError::unexpected("a date (YYYY-MM-DD)", s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_reads_and_writes_one_spelling_everywhere() {
        let day: Day = "2026-12-02".parse().unwrap();
        assert_eq!(day.to_string(), "2026-12-02");
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"2026-12-02\"");
        assert_eq!(serde_json::from_str::<Day>("\"2026-12-02\"").unwrap(), day);
        assert!(serde_json::from_str::<Day>("\"2026-13-02\"").is_err());
        let err = "friday".parse::<Day>().unwrap_err().to_string();
        assert!(err.contains("not a date"), "{err}");

        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let back: Day = conn.query_row("SELECT ?1", [day], |r| r.get(0)).unwrap();
        assert_eq!(back, day);
        let stored: String = conn.query_row("SELECT ?1", [day], |r| r.get(0)).unwrap();
        assert_eq!(stored, "2026-12-02");
        assert!(conn
            .query_row("SELECT 'soon'", [], |r| r.get::<_, Day>(0))
            .is_err());

        let mut doc = automerge::AutoCommit::new();
        #[derive(Debug, PartialEq, Reconcile, Hydrate)]
        struct Holder {
            on: Day,
        }
        autosurgeon::reconcile(&mut doc, &Holder { on: day }).unwrap();
        let held: Holder = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(held, Holder { on: day });
    }

    #[test]
    fn ids_are_their_text_on_every_boundary() {
        let id = PersonId::from("a1b2c3");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"a1b2c3\"");
        assert_eq!(RecordId::from(id.clone()).as_str(), "a1b2c3");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let back: PersonId = conn.query_row("SELECT ?1", [&id], |r| r.get(0)).unwrap();
        assert_eq!(back, id);
    }
}
