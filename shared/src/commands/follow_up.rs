//! Keeping the user honest: thank-yous sent, follow-ups done or moved.

use rusqlite::params;

use crate::model::{Day, DocKind, Interaction, InteractionId, PersonId, ThankYou};
use crate::{Error, Result, Store};

impl Store {
    /// Marks the thank-you for one conversation as sent on `on`.
    pub fn mark_thank_you_sent(&mut self, interaction_id: &InteractionId, on: Day) -> Result<()> {
        self.write(|w| {
            w.update(
                interaction_id.as_str(),
                DocKind::Interaction,
                |i: &mut Interaction| {
                    i.thank_you = ThankYou::Sent { on };
                    Ok(())
                },
            )
        })
    }

    /// Marks every thank-you still to send to this person as sent; returns how many.
    pub fn mark_person_thanked(&mut self, person_id: &PersonId, on: Day) -> Result<usize> {
        // A person merged away leads to the person kept.
        let person_id = crate::store::kept_person(self.conn(), person_id.as_str())?;
        let ids: Vec<String> = self
            .conn()
            .prepare(
                "SELECT i.id FROM interactions i
                 JOIN interaction_people ip ON ip.interaction_id = i.id
                 WHERE ip.person_id = ?1 AND i.thank_you = 'to_send' AND i.deleted = 0",
            )?
            .query_map(params![person_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Err(Error::not_found(
                "no thank-you is waiting to be sent to them",
            ));
        }
        self.write(|w| {
            for id in &ids {
                w.update(id, DocKind::Interaction, |i: &mut Interaction| {
                    i.thank_you = ThankYou::Sent { on };
                    Ok(())
                })?;
            }
            Ok(ids.len())
        })
    }

    /// Marks a follow-up (named by its conversation's id) as done.
    pub fn complete_follow_up(&mut self, interaction_id: &InteractionId) -> Result<()> {
        self.write(|w| {
            w.update(
                interaction_id.as_str(),
                DocKind::Interaction,
                |i: &mut Interaction| {
                    let f = i
                        .follow_up
                        .as_mut()
                        .ok_or_else(|| Error::not_found("that conversation has no follow-up"))?;
                    f.done = true;
                    Ok(())
                },
            )
        })
    }

    /// Moves a follow-up to another day (and opens it again if it was done).
    pub fn move_follow_up(&mut self, interaction_id: &InteractionId, to: Day) -> Result<()> {
        self.write(|w| {
            w.update(
                interaction_id.as_str(),
                DocKind::Interaction,
                |i: &mut Interaction| {
                    let f = i
                        .follow_up
                        .as_mut()
                        .ok_or_else(|| Error::not_found("that conversation has no follow-up"))?;
                    f.on = to;
                    f.done = false;
                    Ok(())
                },
            )
        })
    }

    /// Resolves a follow-up id (its conversation's id or a unique prefix).
    pub fn resolve_follow_up(&self, id: &str) -> Result<InteractionId> {
        super::lookup::resolve_prefix(self.conn(), "interactions", "follow-up", id).map(Into::into)
    }
}
