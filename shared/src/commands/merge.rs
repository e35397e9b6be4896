//! Merging two people who are one: the duplicate's details and conversations go to
//! the person kept, and the duplicate stays behind as a redirect to them.

use serde::{Deserialize, Serialize};

use crate::model::{DocKind, Person, PersonId};
use crate::store::kept_person;
use crate::{Error, Result, Store};

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    /// The person kept, who now holds both people's details and conversations.
    pub kept: PersonId,
    /// The person merged away; their id still leads to the person kept.
    pub merged: PersonId,
}

impl Store {
    /// Merges `other` into `keep`: `keep` gains what `other` holds that it lacks
    /// (emails, phones, addresses, tags, notes, …), and `other` becomes a redirect to
    /// `keep`, so every conversation and referral naming `other`, written here or on
    /// a device that has not heard of the merge yet, shows under `keep`. Either may be
    /// given by the id of a person merged away before: each is taken as whom it
    /// resolves to.
    pub fn merge_people(&mut self, keep: &PersonId, other: &PersonId) -> Result<Merged> {
        let _span = tracing::debug_span!("merge_people").entered();
        self.write(|w| {
            let keep = kept_person(w.tx(), keep.as_str())?;
            let other = kept_person(w.tx(), other.as_str())?;
            if keep == other {
                return Err(Error::invalid(
                    "these are already one person: give two different people to merge",
                ));
            }
            let theirs: Person = w.read(&other, DocKind::Person)?;
            let mine: Person = w.read(&keep, DocKind::Person)?;
            if mine.deleted || theirs.deleted {
                return Err(Error::invalid(
                    "a deleted person cannot be merged: restore them first",
                ));
            }
            w.update(&keep, DocKind::Person, |p: &mut Person| {
                p.absorb(&theirs);
                Ok(())
            })?;
            w.update(&other, DocKind::Person, |p: &mut Person| {
                p.merged_into = Some(keep.clone());
                Ok(())
            })?;
            Ok(Merged {
                kept: keep.into(),
                merged: other.into(),
            })
        })
    }
}
