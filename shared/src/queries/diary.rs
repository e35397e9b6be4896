//! A person's diary: every conversation in time order, and the referrals around them.

use serde::{Deserialize, Serialize};

use super::rows::{
    interactions_where, person_detail, referrals_where, InteractionRow, PersonDetail, ReferralRow,
};
use crate::model::{InteractionKind, PersonId};
use crate::{Error, Result, Store};

/// Everything the person page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diary {
    pub person: PersonDetail,
    /// Every live conversation with them, oldest first.
    pub interactions: Vec<InteractionRow>,
    /// People they suggested the user talk to.
    pub referrals_given: Vec<ReferralRow>,
    /// The referrals through which the user came to them.
    pub referrals_received: Vec<ReferralRow>,
    /// Their last value call, ms since the epoch.
    pub last_value_call: Option<i64>,
}

impl Store {
    /// The diary of one person (by id).
    pub fn diary(&self, person_id: &PersonId) -> Result<Diary> {
        let conn = self.conn();
        // A person merged away leads to the person kept.
        let kept = crate::store::kept_person(conn, person_id.as_str())?;
        let person_id = kept.as_str();
        let person = person_detail(conn, person_id)?
            .ok_or_else(|| Error::NotFound(format!("no person with id {person_id}")))?;
        let interactions = interactions_where(
            conn,
            "i.deleted = 0 AND i.id IN (SELECT interaction_id FROM interaction_people WHERE person_id = ?1)",
            "i.at, i.id",
            None,
            &[&person_id],
        )?;
        let referrals_given = referrals_where(
            conn,
            "r.referrer_id = ?1 AND r.deleted = 0",
            "r.at, r.position, r.id",
            None,
            &[&person_id],
        )?;
        let referrals_received = referrals_where(
            conn,
            "r.person_id = ?1 AND r.deleted = 0",
            "r.at, r.position, r.id",
            None,
            &[&person_id],
        )?;
        let last_value_call = interactions
            .iter()
            .filter(|i| i.kind == InteractionKind::Value)
            .map(|i| i.at)
            .max();
        Ok(Diary {
            person,
            interactions,
            referrals_given,
            referrals_received,
            last_value_call,
        })
    }
}
