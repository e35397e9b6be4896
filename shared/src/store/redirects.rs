//! Whom each person resolves to, after merges and shared address-book uids.
//!
//! A merged-away person keeps its document with `merged_into` set; people of one
//! address-book uid (the same contact imported on two devices before they synced)
//! belong together without any device writing anything. Both join people into
//! groups, and every person of a group resolves to one of them, worked out from the
//! read model alone, so every device that holds the same documents agrees:
//!
//! - the group's people that are not merged into anyone of the group are its
//!   candidates; the one with the smallest id is kept (two merges of one pair in
//!   opposite directions leave no candidate: then the smallest id of the group);
//! - a redirect to a person this device has not received yet waits for it.
//!
//! `people.kept_id` holds the result (NULL for a person kept or on their own), and a
//! conversation's rows name the people its document names as they resolve. When
//! whom someone resolves to changes, that person's row and the conversations that
//! name them (or named them through the old result) are projected again from their
//! documents, so the rows never depend on the order documents arrived in.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Transaction;

use super::{docs, read_model};
use crate::model::DocKind;
use crate::Result;

/// Works out whom people resolve to again when a write may have changed it (or
/// always, with `force`, after a rebuild), and projects what changed.
pub(super) fn settle(tx: &Transaction<'_>, force: bool) -> Result<()> {
    if !force {
        let dirty: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM redirects_dirty)")?
            .query_row([], |r| r.get(0))?;
        if !dirty {
            return Ok(());
        }
    }
    let wanted = resolve(tx)?;
    let before: BTreeMap<String, String> = tx
        .prepare_cached("SELECT id, kept_id FROM people WHERE kept_id IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for id in before.keys().chain(wanted.keys()) {
        if before.get(id) != wanted.get(id) {
            changed.insert(id.clone());
        }
    }
    let mut conversations: BTreeSet<String> = BTreeSet::new();
    for id in &changed {
        let kept = wanted.get(id);
        tx.prepare_cached("UPDATE people SET kept_id = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![id, kept])?;
        // The conversations that name them, under them or under whom they resolved to.
        let mut names = vec![id.as_str()];
        names.extend(before.get(id).map(String::as_str));
        for name in names {
            let mut stmt = tx.prepare_cached(
                "SELECT interaction_id FROM interaction_people WHERE person_id = ?1
                 UNION SELECT interaction_id FROM referrals WHERE person_id = ?1",
            )?;
            for found in stmt.query_map([name], |r| r.get::<_, String>(0))? {
                conversations.insert(found?);
            }
        }
    }
    for id in changed.iter().chain(&conversations) {
        project_again(tx, id)?;
    }
    tx.execute("DELETE FROM redirects_dirty", [])?;
    Ok(())
}

/// Projects a stored document again in place of its rows.
fn project_again(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let Some(stored) = docs::read(tx, id)? else {
        return Ok(());
    };
    let kind: DocKind = stored.kind.parse()?;
    let rowid: i64 = tx
        .prepare_cached("SELECT rowid FROM docs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let record = read_model::decode_stored(kind, &stored.bytes)?;
    read_model::project_record(tx, rowid, id, &record, read_model::Rows::Replace)
}

/// Whom every person of a group resolves to, for each person not kept.
fn resolve(tx: &Transaction<'_>) -> Result<BTreeMap<String, String>> {
    // Redirects to a person this device holds.
    let merged: BTreeMap<String, String> = tx
        .prepare_cached(
            "SELECT p.id, p.merged_into FROM people p JOIN people k ON k.id = p.merged_into
             WHERE p.merged_into IS NOT NULL AND p.merged_into != p.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut groups = Groups::default();
    for (from, to) in &merged {
        groups.join(from, to);
    }
    let shared_uid: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT key, person_id FROM person_keys WHERE kind = 'uid' AND key IN
                (SELECT key FROM person_keys WHERE kind = 'uid' GROUP BY key HAVING COUNT(*) > 1)
             ORDER BY key, person_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for pair in shared_uid.windows(2) {
        if pair[0].0 == pair[1].0 {
            groups.join(&pair[0].1, &pair[1].1);
        }
    }
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in groups.parent.keys().cloned().collect::<Vec<_>>() {
        let root = groups.root(&id);
        members.entry(root).or_default().push(id);
    }
    let mut kept = BTreeMap::new();
    for people in members.values() {
        // Members are in id order: the first candidate, else the first of all.
        let keep = people
            .iter()
            .find(|p| !merged.contains_key(*p))
            .unwrap_or(&people[0]);
        for p in people.iter().filter(|p| *p != keep) {
            kept.insert(p.clone(), keep.clone());
        }
    }
    Ok(kept)
}

/// People joined into groups (union-find by id).
#[derive(Default)]
struct Groups {
    parent: BTreeMap<String, String>,
}

impl Groups {
    fn root(&mut self, id: &str) -> String {
        let mut at = id.to_string();
        loop {
            let up = self
                .parent
                .entry(at.clone())
                .or_insert_with(|| at.clone())
                .clone();
            if up == at {
                return at;
            }
            at = up;
        }
    }

    fn join(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            // The smaller id is the root, so the result never depends on the order.
            let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(high, low);
        }
    }
}
