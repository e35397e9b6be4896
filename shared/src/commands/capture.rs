//! Capturing a conversation right after it happened.

use std::collections::BTreeMap;

use autosurgeon::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lookup::{event_by_name, person_by_name, person_name};
use crate::interop::matching::{normalise_email, people_with_key, KeyKind};
use crate::model::{
    Channel, Day, DocKind, Event, EventId, FollowUp, Interaction, InteractionId, InteractionKind,
    Meeting, MeetingId, MeetingPrompt, Person, PersonId, Referral, ReferralStatus, ThankYou,
};
use crate::store::Writer;
use crate::{Error, Result, Store};

/// Who a capture is with: someone already known, or a name to match or create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonRef {
    Existing(PersonId),
    Named(String),
    /// Someone invited to a calendar meeting: the person with this address, else
    /// the person with this name, else a new person with both.
    Guest {
        email: String,
        name: Option<String>,
    },
}

/// The event a capture belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventRef {
    Existing(EventId),
    Named(String),
}

/// A referral as typed in the capture form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralDraft {
    pub name: String,
    pub will_introduce: bool,
    pub will_tell: bool,
    pub may_use_name: bool,
    pub reach: String,
}

/// Everything the capture form holds. Also what a draft autosave keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureDraft {
    pub people: Vec<PersonRef>,
    /// When it happened; `None` means now.
    pub at: Option<DateTime<Utc>>,
    pub kind: InteractionKind,
    pub channel: Channel,
    pub talked_about: String,
    pub recommended: String,
    pub observations: String,
    pub next_step: String,
    pub business_discussed: bool,
    pub offer_made: bool,
    pub thank_you: bool,
    pub follow_up: Option<Day>,
    pub referrals: Vec<ReferralDraft>,
    pub event: Option<EventRef>,
    /// The calendar meeting this conversation was: saving marks it captured, so no
    /// device asks about it again.
    pub meeting: Option<MeetingId>,
}

/// What a capture wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Captured {
    pub interaction_id: InteractionId,
    pub people: Vec<CapturedPerson>,
    pub event_id: Option<EventId>,
}

/// One person of a capture: found, or created by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedPerson {
    pub id: PersonId,
    pub name: String,
    /// True when the capture created them.
    pub created: bool,
}

impl CaptureDraft {
    /// True when nothing has been typed yet.
    pub fn is_blank(&self) -> bool {
        *self
            == CaptureDraft {
                kind: self.kind,
                channel: self.channel,
                ..Default::default()
            }
    }
}

impl Store {
    /// Saves a conversation: finds or creates its people and event, writes the
    /// interaction with its referrals, in one durable transaction.
    pub fn capture(&mut self, draft: &CaptureDraft) -> Result<Captured> {
        let _span = tracing::debug_span!("capture").entered();
        validate(draft)?;
        self.write(|w| {
            let now = w.now();
            let event_id = match &draft.event {
                None => None,
                Some(event) => Some(resolve_event(w, event)?),
            };
            let event: Option<Event> = match &event_id {
                Some(id) => Some(w.read(id, DocKind::Event)?),
                None => None,
            };
            let mut people: Vec<(String, String, bool)> = Vec::new();
            for person in &draft.people {
                let resolved = resolve_person(w, person, event_id.as_deref(), event.as_ref())?;
                if !people.iter().any(|(id, _, _)| *id == resolved.0) {
                    people.push(resolved);
                }
            }
            let referrals: BTreeMap<String, Referral> = draft
                .referrals
                .iter()
                .filter(|r| !r.name.trim().is_empty())
                .enumerate()
                .map(|(order, r)| (w.new_id(), referral_from(r, order)))
                .collect();
            let interaction = Interaction {
                people: people.iter().map(|(id, _, _)| id.clone()).collect(),
                at: draft.at.unwrap_or(now).timestamp_millis(),
                kind: draft.kind,
                channel: draft.channel,
                talked_about: Text::with_value(draft.talked_about.trim()),
                recommended: Text::with_value(draft.recommended.trim()),
                observations: Text::with_value(draft.observations.trim()),
                next_step: Text::with_value(draft.next_step.trim()),
                business_discussed: draft.business_discussed,
                offer_made: draft.offer_made,
                thank_you: if draft.thank_you {
                    ThankYou::ToSend
                } else {
                    ThankYou::NotNeeded
                },
                follow_up: draft.follow_up.map(|on| FollowUp { on, done: false }),
                referrals,
                event: event_id.clone(),
                created_at: now.timestamp_millis(),
                deleted: false,
                attachments: Default::default(),
            };
            let interaction_id = w.create(DocKind::Interaction, &interaction)?;
            if let Some(meeting) = &draft.meeting {
                let captured = MeetingPrompt::Captured {
                    interaction: interaction_id.clone().into(),
                };
                w.update(meeting.as_str(), DocKind::Meeting, |m: &mut Meeting| {
                    m.prompt = captured;
                    Ok(())
                })?;
            }
            Ok(Captured {
                interaction_id: interaction_id.into(),
                people: people
                    .into_iter()
                    .map(|(id, name, created)| CapturedPerson {
                        id: id.into(),
                        name,
                        created,
                    })
                    .collect(),
                event_id: event_id.map(Into::into),
            })
        })
    }
}

fn validate(draft: &CaptureDraft) -> Result<()> {
    let named = draft.people.iter().any(|p| match p {
        PersonRef::Existing(id) => !id.as_str().trim().is_empty(),
        PersonRef::Named(name) => !name.trim().is_empty(),
        PersonRef::Guest { email, .. } => !email.trim().is_empty(),
    });
    if !named {
        return Err(Error::invalid(
            "say who the conversation was with: at least one person",
        ));
    }
    if let Some(EventRef::Named(name)) = &draft.event {
        if name.trim().is_empty() {
            return Err(Error::invalid("the event needs a name"));
        }
    }
    Ok(())
}

pub(super) fn referral_from(r: &ReferralDraft, order: usize) -> Referral {
    Referral {
        name: r.name.trim().to_string(),
        person: None,
        will_introduce: r.will_introduce,
        will_tell: r.will_tell,
        may_use_name: r.may_use_name,
        reach: Text::with_value(r.reach.trim()),
        status: ReferralStatus::Suggested,
        order: order as i64,
    }
}

fn resolve_event(w: &mut Writer<'_>, event: &EventRef) -> Result<String> {
    match event {
        EventRef::Existing(id) => {
            let _: Event = w.read(id.as_str(), DocKind::Event)?;
            Ok(id.to_string())
        }
        EventRef::Named(name) => {
            if let Some(id) = event_by_name(w.tx(), name)? {
                return Ok(id);
            }
            let now = w.now();
            w.create(
                DocKind::Event,
                &Event {
                    name: name.trim().to_string(),
                    place: String::new(),
                    date: now.format("%Y-%m-%d").to_string(),
                    created_at: now.timestamp_millis(),
                    deleted: false,
                },
            )
        }
    }
}

/// Finds the person (by id or name) or creates them; returns (id, name, created).
pub(super) fn resolve_person(
    w: &mut Writer<'_>,
    person: &PersonRef,
    event_id: Option<&str>,
    event: Option<&Event>,
) -> Result<(String, String, bool)> {
    match person {
        PersonRef::Existing(id) => {
            // A person merged away leads to the person kept.
            let id = crate::store::kept_person(w.tx(), id.as_str())?;
            let name = person_name(w.tx(), &id)?;
            Ok((id, name, false))
        }
        PersonRef::Named(name) => by_name_or_new(w, name, None, event_id, event),
        PersonRef::Guest { email, name } => {
            let email = normalise_email(email);
            if let Some(id) = people_with_key(w.tx(), KeyKind::Email, &email)?.first() {
                return Ok((id.clone(), person_name(w.tx(), id)?, false));
            }
            let name = name.as_deref().filter(|n| !n.trim().is_empty());
            by_name_or_new(w, name.unwrap_or(&email), Some(&email), event_id, event)
        }
    }
}

/// The live person with this name (spacing aside) or a new one; with `email`, the
/// address the person found lacks is kept (the calendar says how to reach them),
/// and a new person has it.
fn by_name_or_new(
    w: &mut Writer<'_>,
    name: &str,
    email: Option<&str>,
    event_id: Option<&str>,
    event: Option<&Event>,
) -> Result<(String, String, bool)> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((id, name)) = person_by_name(w.tx(), &name)? {
        if let Some(email) = email {
            w.update(&id, DocKind::Person, |p: &mut Person| {
                if !p.emails.iter().any(|e| normalise_email(e) == email) {
                    p.emails.push(email.to_string());
                }
                Ok(())
            })?;
        }
        return Ok((id, name, false));
    }
    let emails = email.map(str::to_string).into_iter().collect();
    let id = create_person(w, &name, emails, event_id, event)?;
    Ok((id, name, true))
}

fn create_person(
    w: &mut Writer<'_>,
    name: &str,
    emails: Vec<String>,
    event_id: Option<&str>,
    event: Option<&Event>,
) -> Result<String> {
    let how_met = event
        .map(|e| format!("Met at {} ({})", e.name, e.date))
        .unwrap_or_default();
    w.create(
        DocKind::Person,
        &Person {
            name: name.to_string(),
            emails,
            how_met: Text::with_value(how_met),
            event: event_id.map(str::to_string),
            created_at: w.now().timestamp_millis(),
            ..Default::default()
        },
    )
}
