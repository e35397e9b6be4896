//! Keeping the user honest: thank-yous sent, follow-ups done or moved.

use rusqlite::{params, OptionalExtension};

use crate::model::{Day, DocKind, FollowUp, Interaction, InteractionId, PersonId, ThankYou};

/// The next step a scheduled value call writes.
pub const VALUE_CALL_STEP: &str = "Book a value call";
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

    /// Schedules a value call with someone so far only chatted with: a follow-up on
    /// `on` on their latest conversation, its next step "Book a value call" unless
    /// one is written. Returns that conversation.
    pub fn schedule_value_call(&mut self, person: &PersonId, on: Day) -> Result<InteractionId> {
        let latest: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT interaction_id FROM interaction_people
                 WHERE person_id = ?1 AND deleted = 0 ORDER BY at DESC, interaction_id DESC LIMIT 1",
            )?
            .query_row(params![person], |r| r.get(0))
            .optional()?;
        let id = latest
            .ok_or_else(|| Error::not_found("no conversation with them yet: capture one first"))?;
        self.write(|w| {
            w.update(&id, DocKind::Interaction, |i: &mut Interaction| {
                i.follow_up = Some(FollowUp { on, done: false });
                if i.next_step.as_str().trim().is_empty() {
                    i.next_step.update(VALUE_CALL_STEP);
                }
                Ok(())
            })
        })?;
        Ok(id.into())
    }

    /// Resolves a follow-up id (its conversation's id or a unique prefix).
    pub fn resolve_follow_up(&self, id: &str) -> Result<InteractionId> {
        super::lookup::resolve_prefix(self.conn(), "interactions", "follow-up", id).map(Into::into)
    }
}
