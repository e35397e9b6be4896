//! People who are likely one person twice: the same email, the same phone or the
//! same name once folded (case, accents and spacing aside), suggested for a merge.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::rows::PersonName;
use crate::model::PersonId;
use crate::{fold, Result, Store};

/// Why two people look like one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// Their names are the same once folded.
    SameName,
    /// They share a phone number (written either way).
    SamePhone,
    /// They share an email address.
    SameEmail,
}

/// Two live people who may be one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateSuggestion {
    /// Of the two, the one with more conversations (then the earlier written): the
    /// one a merge would keep.
    pub keep: PersonName,
    pub other: PersonName,
    /// The strongest reason they look like one.
    pub reason: DuplicateReason,
}

/// A live person as the suggestions weigh them.
struct Candidate {
    name: String,
    conversations: i64,
    created_at: i64,
}

impl Store {
    /// Pairs of live people who may be one person, strongest reason first, then by
    /// name; at most `limit`.
    pub fn duplicates(&self, limit: usize) -> Result<Vec<DuplicateSuggestion>> {
        self.duplicate_pairs(None, limit)
    }

    /// The people who may be the same as `person` (by id; a person merged away is
    /// taken as the person kept), strongest reason first.
    pub fn duplicates_of(&self, person: &PersonId) -> Result<Vec<DuplicateSuggestion>> {
        let kept = crate::store::kept_person(self.conn(), person.as_str())?;
        self.duplicate_pairs(Some(&kept), usize::MAX)
    }

    fn duplicate_pairs(
        &self,
        only: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DuplicateSuggestion>> {
        let conn = self.conn();
        // For one person, only names folded like theirs are grouped.
        let only_name = match only {
            Some(id) => {
                let name: Option<String> = conn
                    .prepare_cached("SELECT name FROM people WHERE id = ?1 AND deleted = 0")?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                match name {
                    Some(name) => Some(fold::fold(&name)),
                    None => return Ok(Vec::new()),
                }
            }
            None => None,
        };
        let mut people: BTreeMap<String, Candidate> = BTreeMap::new();
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.name, COALESCE(st.conversations, 0), p.created_at
             FROM people p LEFT JOIN person_stats st ON st.person_id = p.id
             WHERE p.deleted = 0 ORDER BY p.id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let name: String = r.get(1)?;
            let folded = fold::fold(&name);
            if !folded.is_empty() && only_name.as_ref().is_none_or(|n| *n == folded) {
                by_name.entry(folded).or_default().push(id.clone());
            }
            people.insert(
                id,
                Candidate {
                    name,
                    conversations: r.get(2)?,
                    created_at: r.get(3)?,
                },
            );
        }
        let mut pairs: BTreeMap<(String, String), DuplicateReason> = BTreeMap::new();
        let mut add = |a: &str, b: &str, reason: DuplicateReason| {
            if a == b || only.is_some_and(|o| o != a && o != b) {
                return;
            }
            let key = if a < b { (a, b) } else { (b, a) };
            let known = pairs
                .entry((key.0.to_string(), key.1.to_string()))
                .or_insert(reason);
            *known = (*known).max(reason);
        };
        for ids in by_name.values() {
            for (i, a) in ids.iter().enumerate() {
                for b in &ids[i + 1..] {
                    add(a, b, DuplicateReason::SameName);
                }
            }
        }
        // Pairs sharing an email or a phone: for one person, only their own keys are
        // looked up (through the keys' person index), not every pair of the store.
        const SHARED_KEYS: &str = "SELECT a.person_id, b.person_id, a.kind FROM person_keys a
             JOIN person_keys b ON b.kind = a.kind AND b.key = a.key AND b.person_id != a.person_id
             JOIN people pa ON pa.id = a.person_id JOIN people pb ON pb.id = b.person_id
             WHERE a.kind IN ('email', 'phone') AND pa.deleted = 0 AND pb.deleted = 0";
        let mut stmt = match only {
            Some(_) => conn.prepare_cached(&format!("{SHARED_KEYS} AND a.person_id = ?1"))?,
            None => conn.prepare_cached(&format!("{SHARED_KEYS} AND b.person_id > a.person_id"))?,
        };
        let mut rows = match only {
            Some(id) => stmt.query([id])?,
            None => stmt.query([])?,
        };
        while let Some(r) = rows.next()? {
            let (a, b, kind): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let reason = if kind == "email" {
                DuplicateReason::SameEmail
            } else {
                DuplicateReason::SamePhone
            };
            add(&a, &b, reason);
        }
        let mut out: Vec<DuplicateSuggestion> = pairs
            .into_iter()
            .filter_map(|((a, b), reason)| {
                let (pa, pb) = (people.get(&a)?, people.get(&b)?);
                // The one with more conversations is kept, then the earlier written.
                let a_first = (-pa.conversations, pa.created_at, &a)
                    <= (-pb.conversations, pb.created_at, &b);
                let name = |id: &str, p: &Candidate| PersonName {
                    id: id.into(),
                    name: p.name.clone(),
                };
                let (keep, other) = if a_first {
                    (name(&a, pa), name(&b, pb))
                } else {
                    (name(&b, pb), name(&a, pa))
                };
                Some(DuplicateSuggestion {
                    keep,
                    other,
                    reason,
                })
            })
            .collect();
        out.sort_by(|x, y| {
            y.reason
                .cmp(&x.reason)
                .then_with(|| fold::fold(&x.keep.name).cmp(&fold::fold(&y.keep.name)))
                .then_with(|| x.keep.id.cmp(&y.keep.id))
                .then_with(|| x.other.id.cmp(&y.other.id))
        });
        out.truncate(limit);
        Ok(out)
    }
}
