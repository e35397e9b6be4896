//! Meetings from the calendar that have ended and still wait for "how did it go?".

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::PersonName;
use crate::commands::{CaptureDraft, PersonRef};
use crate::model::{Channel, MeetingId, PersonId};
use crate::{Result, Store};

/// A meeting that has ended, with other people, and nothing captured or answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingToAsk {
    pub id: MeetingId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub location: String,
    pub link: Option<String>,
    /// How it was held, for the capture form: a video link says video, a place in
    /// person; neither, video.
    pub channel: Channel,
    /// Everyone invited but the user, who has not declined, in the calendar's order.
    pub guests: Vec<Guest>,
}

/// Someone invited, and the person with their address if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub email: String,
    pub name: Option<String>,
    pub person: Option<PersonName>,
}

impl Guest {
    /// Who the guest is in a capture: the person with their address, else someone
    /// to find by name or add with it.
    pub fn person_ref(&self) -> PersonRef {
        match &self.person {
            Some(p) => PersonRef::Existing(p.id.clone()),
            None => PersonRef::Guest {
                email: self.email.clone(),
                name: self.name.clone(),
            },
        }
    }

    /// How the guest reads: the person's name, else the calendar's, else the address.
    pub fn label(&self) -> &str {
        match (&self.person, &self.name) {
            (Some(p), _) => &p.name,
            (None, Some(name)) => name,
            (None, None) => &self.email,
        }
    }
}

impl MeetingToAsk {
    /// The capture of "how did it go?": its guests, its start and how it was held,
    /// saved as the meeting's conversation.
    pub fn capture(&self) -> CaptureDraft {
        CaptureDraft {
            people: self.guests.iter().map(Guest::person_ref).collect(),
            at: Some(self.start),
            channel: self.channel,
            meeting: Some(self.id.clone()),
            ..Default::default()
        }
    }
}

/// Meetings to ask about, most recently ended first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingsToAsk {
    pub meetings: Vec<MeetingToAsk>,
    /// How many there are in all (`meetings` holds at most the limit asked for).
    pub total: usize,
    /// When the next meeting to ask about ends: the moment to look again.
    pub next_end: Option<DateTime<Utc>>,
}

/// The meetings asked about once they end: not answered, not cancelled, not all-day,
/// with someone other than the user who has not declined.
const ASKABLE: &str = "prompt = 'asked' AND cancelled = 0 AND all_day = 0 AND others > 0
    AND deleted = 0";

impl Store {
    /// Meetings that ended by the store's clock and still wait to be asked about,
    /// at most `limit`, the most recently ended first.
    pub fn meetings_to_ask(&self, limit: usize) -> Result<MeetingsToAsk> {
        let now = self.now().timestamp_millis();
        let total: i64 = self.conn().query_row(
            &format!("SELECT COUNT(*) FROM meetings WHERE {ASKABLE} AND end_at <= ?1"),
            [now],
            |r| r.get(0),
        )?;
        let next_end: Option<i64> = self.conn().query_row(
            &format!("SELECT MIN(end_at) FROM meetings WHERE {ASKABLE} AND end_at > ?1"),
            [now],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT id, start_at, end_at, summary, location, link FROM meetings
             WHERE {ASKABLE} AND end_at <= ?1 ORDER BY end_at DESC, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now, limit as i64], |r| {
            Ok((
                r.get::<_, MeetingId>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        let mut meetings = Vec::new();
        for row in rows {
            let (id, start, end, summary, location, link) = row?;
            let channel = match (&link, location.trim().is_empty()) {
                (Some(_), _) | (None, true) => Channel::Video,
                (None, false) => Channel::InPerson,
            };
            meetings.push(MeetingToAsk {
                guests: self.guests(&id)?,
                id,
                start: instant(start),
                end: instant(end),
                summary,
                location,
                link,
                channel,
            });
        }
        Ok(MeetingsToAsk {
            meetings,
            total: usize::try_from(total).unwrap_or(0),
            next_end: next_end.map(instant),
        })
    }

    fn guests(&self, meeting: &MeetingId) -> Result<Vec<Guest>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT a.email, a.name, p.id, p.name
             FROM meeting_attendees a
             LEFT JOIN people p ON p.id =
                (SELECT k.person_id FROM person_keys k JOIN people q ON q.id = k.person_id
                 WHERE k.kind = 'email' AND k.key = a.email AND q.deleted = 0
                 ORDER BY q.created_at, q.id LIMIT 1)
             WHERE a.meeting_id = ?1 AND a.is_owner = 0 AND a.declined = 0
             ORDER BY a.position, a.email",
        )?;
        let rows = stmt.query_map([meeting], |r| {
            let person = match r.get::<_, Option<PersonId>>(2)? {
                Some(id) => Some(PersonName {
                    id,
                    name: r.get(3)?,
                }),
                None => None,
            };
            Ok(Guest {
                email: r.get(0)?,
                name: r.get(1)?,
                person,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn instant(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}
