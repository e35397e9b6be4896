//! Events: the list of networking events and one event's page, everyone met there.

use serde::{Deserialize, Serialize};

use super::rows::{event_name, interactions_where, EventName, InteractionRow, PersonName};
use crate::model::EventId;
use crate::{Error, Result, Store};

/// An event's page: the event, the conversations held there and everyone met there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub event: EventName,
    /// Conversations held at the event, in the order they happened.
    pub interactions: Vec<InteractionRow>,
    /// Everyone met there (in a conversation held there, or recorded as met there), by name.
    pub people: Vec<PersonName>,
}

impl Store {
    /// Live events, newest first.
    pub fn events(&self, limit: usize) -> Result<Vec<EventName>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, date FROM events WHERE deleted = 0 ORDER BY date DESC, name, id LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(EventName {
                id: r.get(0)?,
                name: r.get(1)?,
                date: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One event's page (by id).
    pub fn event_page(&self, event_id: &EventId) -> Result<EventPage> {
        let conn = self.conn();
        let event_id = event_id.as_str();
        let event = event_name(conn, event_id)?
            .ok_or_else(|| Error::not_found(format!("no event with id {event_id}")))?;
        let interactions = interactions_where(
            conn,
            "i.deleted = 0 AND i.event_id = ?1",
            "i.at, i.id",
            None,
            &[&event_id],
        )?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name FROM people WHERE deleted = 0 AND (event_id = ?1 OR id IN (
                 SELECT ip.person_id FROM interaction_people ip
                 JOIN interactions i ON i.id = ip.interaction_id
                 WHERE i.event_id = ?1 AND i.deleted = 0))
             ORDER BY name COLLATE NOCASE, id",
        )?;
        let people = stmt
            .query_map([event_id], |r| {
                Ok(PersonName {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(EventPage {
            event,
            interactions,
            people,
        })
    }
}
