//! Moving a referral along: suggested → intro asked → intro made → talked.

use autosurgeon::Text;
use rusqlite::OptionalExtension;

use super::lookup::{person_by_name, person_name, resolve_prefix};
use crate::model::{DocKind, Interaction, Person, PersonId, ReferralId, ReferralStatus};
use crate::{Error, Result, Store};

/// What advancing a referral did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReferralAdvanced {
    pub referral_id: ReferralId,
    pub status: ReferralStatus,
    /// The person it is linked to, once intro is made or you talked.
    pub person_id: Option<PersonId>,
    /// True when this step created the person.
    pub person_created: bool,
}

impl Store {
    /// Resolves a referral id (or a unique prefix of one).
    pub fn resolve_referral(&self, id: &str) -> Result<ReferralId> {
        resolve_prefix(self.conn(), "referrals", "referral", id).map(Into::into)
    }

    /// Sets a referral's status. From "intro made" on, the referral is linked to a
    /// Person (an existing one with the same name, or a new one introduced by the
    /// referrer), so the diary and the People list know them.
    pub fn set_referral_status(
        &mut self,
        referral_id: &ReferralId,
        status: ReferralStatus,
    ) -> Result<ReferralAdvanced> {
        let referral_id = referral_id.as_str();
        let interaction_id: String = self
            .conn()
            .query_row(
                "SELECT interaction_id FROM referrals WHERE id = ?1",
                [referral_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no referral {referral_id}")))?;
        self.write(|w| {
            let i: Interaction = w.read(&interaction_id, DocKind::Interaction)?;
            let referral = i
                .referrals
                .get(referral_id)
                .ok_or_else(|| Error::not_found(format!("no referral {referral_id}")))?;
            let mut person_id = referral.person.clone();
            let mut person_created = false;
            if person_id.is_none() && status >= ReferralStatus::IntroMade {
                person_id = match person_by_name(w.tx(), &referral.name)? {
                    Some((id, _)) => Some(id),
                    None => {
                        let referrer_name = match i.people.first() {
                            Some(id) => person_name(w.tx(), id)?,
                            None => String::new(),
                        };
                        let how_met = if referrer_name.is_empty() {
                            String::from("Referred")
                        } else {
                            format!("Referred by {referrer_name}")
                        };
                        person_created = true;
                        let person = Person {
                            name: referral.name.clone(),
                            how_met: Text::with_value(how_met),
                            introduced_by: i.people.first().cloned(),
                            notes: Text::with_value(referral.reach.as_str()),
                            created_at: w.now().timestamp_millis(),
                            ..Default::default()
                        };
                        Some(w.create(DocKind::Person, &person)?)
                    }
                };
            }
            w.update(
                &interaction_id,
                DocKind::Interaction,
                |i: &mut Interaction| {
                    if let Some(r) = i.referrals.get_mut(referral_id) {
                        r.status = status;
                        if r.person.is_none() {
                            r.person = person_id.clone();
                        }
                    }
                    Ok(())
                },
            )?;
            Ok(ReferralAdvanced {
                referral_id: referral_id.into(),
                status,
                person_id: person_id.map(Into::into),
                person_created,
            })
        })
    }
}
