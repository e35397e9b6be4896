//! Editing any field of a past record. Text fields change by diff, so an edit on
//! one device merges with an edit of the same note on another.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::capture::{referral_from, resolve_person, PersonRef, ReferralDraft};
use crate::model::{
    Cadence, Channel, Day, DocKind, FollowUp, Interaction, InteractionId, InteractionKind, Person,
    PersonId, ReferralId, ThankYou,
};
use crate::{Error, Result, Store};

/// Fields to change on an interaction; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InteractionEdit {
    pub people: Option<Vec<PersonRef>>,
    pub at: Option<DateTime<Utc>>,
    pub kind: Option<InteractionKind>,
    pub channel: Option<Channel>,
    pub talked_about: Option<String>,
    pub recommended: Option<String>,
    pub observations: Option<String>,
    pub next_step: Option<String>,
    pub business_discussed: Option<bool>,
    pub offer_made: Option<bool>,
    pub thank_you: Option<ThankYou>,
    /// `Some(None)` removes the follow-up.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub follow_up: Option<Option<Day>>,
    pub add_referrals: Vec<ReferralDraft>,
    pub edit_referrals: Vec<ReferralEdit>,
    pub remove_referrals: Vec<ReferralId>,
}

/// Fields to change on one referral.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralEdit {
    pub id: ReferralId,
    pub name: Option<String>,
    pub will_introduce: Option<bool>,
    pub will_tell: Option<bool>,
    pub may_use_name: Option<bool>,
    pub reach: Option<String>,
}

/// Fields to change on a person; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonEdit {
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub role: Option<String>,
    pub emails: Option<Vec<String>>,
    pub phones: Option<Vec<String>>,
    pub how_met: Option<String>,
    /// `Some(None)` clears who introduced them.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub introduced_by: Option<Option<PersonId>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    /// How often to keep in touch; `Some(None)` stops the reminder. Setting one
    /// starts its clock now for someone never talked to.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub cadence: Option<Option<Cadence>>,
}

/// A field that is there, even as null, is `Some`: "clear it" (`Some(None)`) survives
/// encoding, and a field left out (`None`, not written) means "leave it".
fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn set<T>(field: &mut T, value: &Option<T>)
where
    T: Clone,
{
    if let Some(v) = value {
        *field = v.clone();
    }
}

impl Store {
    /// Changes fields of an interaction.
    pub fn edit_interaction(&mut self, id: &InteractionId, edit: &InteractionEdit) -> Result<()> {
        self.write(|w| {
            let people = match &edit.people {
                Some(refs) => {
                    let mut ids: Vec<String> = Vec::new();
                    for r in refs {
                        let (id, _, _) = resolve_person(w, r, None, None)?;
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    if ids.is_empty() {
                        return Err(Error::invalid("an interaction needs at least one person"));
                    }
                    Some(ids)
                }
                None => None,
            };
            let new_ids: Vec<String> = edit.add_referrals.iter().map(|_| w.new_id()).collect();
            w.update(id.as_str(), DocKind::Interaction, |i: &mut Interaction| {
                set(&mut i.people, &people);
                if let Some(at) = edit.at {
                    i.at = at.timestamp_millis();
                }
                set(&mut i.kind, &edit.kind);
                set(&mut i.channel, &edit.channel);
                for (field, value) in [
                    (&mut i.talked_about, &edit.talked_about),
                    (&mut i.recommended, &edit.recommended),
                    (&mut i.observations, &edit.observations),
                    (&mut i.next_step, &edit.next_step),
                ] {
                    if let Some(v) = value {
                        field.update(v);
                    }
                }
                set(&mut i.business_discussed, &edit.business_discussed);
                set(&mut i.offer_made, &edit.offer_made);
                set(&mut i.thank_you, &edit.thank_you);
                if let Some(follow_up) = &edit.follow_up {
                    i.follow_up = follow_up.map(|on| FollowUp { on, done: false });
                }
                for r in &edit.edit_referrals {
                    let referral = i.referrals.get_mut(r.id.as_str()).ok_or_else(|| {
                        Error::not_found(format!("no referral {} in this conversation", r.id))
                    })?;
                    set(&mut referral.name, &r.name);
                    set(&mut referral.will_introduce, &r.will_introduce);
                    set(&mut referral.will_tell, &r.will_tell);
                    set(&mut referral.may_use_name, &r.may_use_name);
                    if let Some(reach) = &r.reach {
                        referral.reach.update(reach);
                    }
                }
                for rid in &edit.remove_referrals {
                    i.referrals.remove(rid.as_str());
                }
                let next = i.referrals.values().map(|r| r.order + 1).max().unwrap_or(0);
                for (k, (draft, rid)) in edit.add_referrals.iter().zip(&new_ids).enumerate() {
                    if !draft.name.trim().is_empty() {
                        i.referrals
                            .insert(rid.clone(), referral_from(draft, next as usize + k));
                    }
                }
                Ok(())
            })
        })
    }

    /// Changes fields of a person.
    pub fn edit_person(&mut self, id: &PersonId, edit: &PersonEdit) -> Result<()> {
        if let Some(name) = &edit.name {
            if name.trim().is_empty() {
                return Err(Error::invalid("a person needs a name"));
            }
        }
        self.write(|w| {
            let now = w.now().timestamp_millis();
            // A person merged away leads to the person kept.
            let id = crate::store::kept_person(w.tx(), id.as_str())?;
            w.update(&id, DocKind::Person, |p: &mut Person| {
                if let Some(cadence) = edit.cadence {
                    if p.cadence != cadence {
                        p.cadence = cadence;
                        p.cadence_since = now;
                    }
                }
                if let Some(name) = &edit.name {
                    p.name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                }
                set(&mut p.organisation, &edit.organisation);
                set(&mut p.role, &edit.role);
                set(&mut p.emails, &edit.emails);
                set(&mut p.phones, &edit.phones);
                if let Some(by) = &edit.introduced_by {
                    p.introduced_by = by.as_ref().map(|id| id.to_string());
                }
                set(&mut p.tags, &edit.tags);
                if let Some(v) = &edit.how_met {
                    p.how_met.update(v);
                }
                if let Some(v) = &edit.notes {
                    p.notes.update(v);
                }
                Ok(())
            })
        })
    }
}
