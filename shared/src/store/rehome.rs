//! Rewriting this device's own log: splitting entries too large for the relay, and
//! re-homing a copied or restored data folder as a new device.
//!
//! A copy of a data folder carries the device's id, and with it the Automerge actor
//! its changes are written under. Two copies that both write then hold different
//! changes under the same actor and number, which no device could merge. Re-homing
//! the copy that finds out gives it a new id and actor, and writes each edit it made
//! since the copies parted again under the new actor (on top of what both share), so
//! both copies' edits survive; the old id and its log stay with the other copy.

use std::collections::{BTreeMap, HashSet};

use automerge::{transaction::CommitOptions, ActorId, AutoCommit, ChangeHash};
use autosurgeon::{reconcile, Text};
use rusqlite::{params, TransactionBehavior};

use super::entry::{payloads, DocChanges, LogEntry, Payload};
use super::log::{append, append_payload};
use super::{docs, read_model, Store};
use crate::env::new_id;
use crate::model::{DocKind, Record};
use crate::{Error, Result};

/// The Automerge actor of a device: its id's bytes.
pub(crate) fn actor_for(device_id: &str) -> ActorId {
    ActorId::from(
        (0..device_id.len() / 2)
            .filter_map(|i| u8::from_str_radix(&device_id[2 * i..2 * i + 2], 16).ok())
            .collect::<Vec<u8>>(),
    )
}

impl Store {
    /// Rewrites own-log entries from `from` on into entries that each fit what the
    /// relay accepts (one document's changes larger than that become fragments),
    /// in order; returns the new head. Only for entries not yet on the relay: their
    /// numbers change.
    pub fn split_own_log_from(&mut self, from: u64) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(Vec<u8>, i64)> = tx
            .prepare("SELECT payload, created_at FROM own_log WHERE seq >= ?1 ORDER BY seq")?
            .query_map([from as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        tx.execute("DELETE FROM own_log WHERE seq >= ?1", [from as i64])?;
        let mut head = from.saturating_sub(1);
        for (payload, created_at) in rows {
            match LogEntry::decode_payload(&payload)? {
                Payload::Changes(changes) => {
                    for part in payloads(changes) {
                        head = append_payload(&tx, &part, created_at)?;
                    }
                }
                Payload::Fragment { .. } => head = append_payload(&tx, &payload, created_at)?,
            }
        }
        tx.commit()?;
        self.committed()?;
        Ok(head)
    }

    /// Makes this device a new one: its log on the relay belongs to another copy of
    /// its data folder. Entries up to `common` are what both copies share; the old
    /// id's log is from now on read like any other device's, from `common` on. Every
    /// document that a later own entry changed is written again under the new id's
    /// actor and sent in the new id's log. `clear_settings` are removed in the same
    /// transaction (how far the relay acknowledged the old log). Returns the new id.
    pub fn rehome(&mut self, common: u64, clear_settings: &[&str]) -> Result<String> {
        let old_id = self.device_id.clone();
        let new_device = new_id(self.entropy.as_mut());
        let actor = actor_for(&new_device);
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ours = changes_after(&tx, common)?;
        let mut resend = Vec::new();
        for (doc_id, (kind, bytes)) in ours {
            let Some(stored) = docs::read(&tx, &doc_id)? else {
                continue;
            };
            let mut doc = AutoCommit::load(&stored.bytes)?;
            let mut doc = match without_changes(&mut doc, &change_hashes(&bytes)?)? {
                // Written only here since the copies parted: no other copy has it.
                None => doc,
                Some(kept) => {
                    let mut fork = doc.fork_at(&kept)?.with_actor(actor.clone());
                    let base = read_model::decode(kind, &fork)?;
                    let mut local = read_model::decode(kind, &doc)?;
                    rebase(&mut local, &base);
                    reconcile_record(&mut fork, &local)?;
                    fork.commit_with(CommitOptions::default().with_time(now.timestamp()));
                    let rowid = docs::save(&tx, &doc_id, kind, &mut fork)?;
                    read_model::project(
                        &tx,
                        rowid,
                        &doc_id,
                        kind,
                        &fork,
                        read_model::Rows::Replace,
                    )?;
                    fork
                }
            };
            resend.push(DocChanges {
                doc_id,
                kind,
                bytes: doc.save(),
            });
        }
        tx.execute("DELETE FROM own_log", [])?;
        append(&tx, resend, now.timestamp_millis())?;
        tx.execute(
            "INSERT INTO cursors (device, seq) VALUES (?1, ?2)
             ON CONFLICT(device) DO UPDATE SET seq = excluded.seq",
            params![old_id, common as i64],
        )?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'device_id'",
            [&new_device],
        )?;
        for key in clear_settings {
            tx.execute(
                "DELETE FROM meta WHERE key = ?1",
                [format!("setting.{key}")],
            )?;
        }
        super::redirects::settle(&tx, false)?;
        tx.commit()?;
        self.committed()?;
        tracing::warn!(old = %old_id, new = %new_device, common, "device re-homed");
        self.device_id = new_device.clone();
        self.actor = actor;
        Ok(new_device)
    }
}

/// The changes of own entries after `common`, joined per document (fragments put
/// back together, starting from the first part even when it is at or before
/// `common`).
fn changes_after(
    tx: &rusqlite::Transaction<'_>,
    common: u64,
) -> Result<BTreeMap<String, (DocKind, Vec<u8>)>> {
    let mut stmt = tx.prepare("SELECT seq, payload FROM own_log WHERE seq > ?1 ORDER BY seq")?;
    let rows: Vec<(i64, Vec<u8>)> = stmt
        .query_map([common as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out: BTreeMap<String, (DocKind, Vec<u8>)> = BTreeMap::new();
    let mut add = |changes: Vec<DocChanges>| {
        for c in changes {
            out.entry(c.doc_id)
                .or_insert_with(|| (c.kind, Vec::new()))
                .1
                .extend_from_slice(&c.bytes);
        }
    };
    let mut joined: Vec<u8> = Vec::new();
    for (seq, payload) in rows {
        match LogEntry::decode_payload(&payload)? {
            Payload::Changes(changes) => add(changes),
            Payload::Fragment { part, of, bytes } => {
                if joined.is_empty() && part > 0 {
                    // The run began at or before `common`: read its first parts.
                    let first = seq - i64::from(part);
                    for earlier in tx
                        .prepare(
                            "SELECT payload FROM own_log WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
                        )?
                        .query_map([first, seq], |r| r.get::<_, Vec<u8>>(0))?
                    {
                        if let Payload::Fragment { bytes, .. } =
                            LogEntry::decode_payload(&earlier?)?
                        {
                            joined.extend_from_slice(&bytes);
                        }
                    }
                }
                joined.extend_from_slice(&bytes);
                if part + 1 == of {
                    add(LogEntry::decode_changes(&std::mem::take(&mut joined))?);
                }
            }
        }
    }
    Ok(out)
}

/// The hashes of the changes in `bytes`: change chunks one after another (as
/// `save_after` writes them), or whole documents (as `save` does).
fn change_hashes(mut bytes: &[u8]) -> Result<HashSet<ChangeHash>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let bad = || Error::Document("an own-log entry holds bytes that are not changes".into());
    let mut out = HashSet::new();
    while !bytes.is_empty() {
        if bytes.len() < 10 || bytes[..4] != MAGIC {
            return Err(bad());
        }
        let (len, n) = leb128(&bytes[9..]).ok_or_else(bad)?;
        let end = 9usize
            .checked_add(n)
            .and_then(|e| e.checked_add(usize::try_from(len).ok()?))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(bad)?;
        let chunk = &bytes[..end];
        match bytes[8] {
            1 | 2 => {
                let change = automerge::Change::try_from(chunk).map_err(|_| bad())?;
                out.insert(change.hash());
            }
            _ => {
                let mut doc = AutoCommit::load(chunk)?;
                out.extend(doc.get_changes(&[]).iter().map(|c| c.hash()));
            }
        }
        bytes = &bytes[end..];
    }
    Ok(out)
}

/// An unsigned LEB128 number and how many bytes it took.
fn leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The heads of `doc` without the changes in `drop` and every change after them.
/// `None` when that leaves nothing (the document was made by those changes).
fn without_changes(
    doc: &mut AutoCommit,
    drop: &HashSet<ChangeHash>,
) -> Result<Option<Vec<ChangeHash>>> {
    let changes = doc.get_changes(&[]);
    let mut removed: HashSet<ChangeHash> = HashSet::new();
    // Changes come in causal order: a change after a removed one is removed too.
    for c in &changes {
        if drop.contains(&c.hash()) || c.deps().iter().any(|d| removed.contains(d)) {
            removed.insert(c.hash());
        }
    }
    if removed.len() == changes.len() {
        return Ok(None);
    }
    let kept: Vec<_> = changes
        .iter()
        .filter(|c| !removed.contains(&c.hash()))
        .collect();
    let depended: HashSet<ChangeHash> = kept.iter().flat_map(|c| c.deps().to_vec()).collect();
    Ok(Some(
        kept.iter()
            .map(|c| c.hash())
            .filter(|h| !depended.contains(h))
            .collect(),
    ))
}

/// Points every text of `local` (read from the device's own version of a document)
/// at `base` (what both copies share), as `base`'s text edited into `local`'s: a
/// text remembers the version it was read from and reconciles only onto that one.
fn rebase(local: &mut Record, base: &Record) {
    fn onto(local: &mut Text, base: &Text) {
        let mut text = base.clone();
        text.update(local.as_str());
        *local = text;
    }
    match (local, base) {
        (Record::Person(l), Record::Person(b)) => {
            onto(&mut l.how_met, &b.how_met);
            onto(&mut l.notes, &b.notes);
        }
        (Record::Interaction(l), Record::Interaction(b)) => {
            onto(&mut l.talked_about, &b.talked_about);
            onto(&mut l.recommended, &b.recommended);
            onto(&mut l.observations, &b.observations);
            onto(&mut l.next_step, &b.next_step);
            for (id, referral) in l.referrals.iter_mut() {
                let fresh = Text::default();
                let base = b.referrals.get(id).map_or(&fresh, |r| &r.reach);
                onto(&mut referral.reach, base);
            }
        }
        _ => {}
    }
}

/// Writes `record` into `doc` as the difference from what `doc` holds.
fn reconcile_record(doc: &mut AutoCommit, record: &Record) -> Result<()> {
    match record {
        Record::Person(p) => reconcile(doc, p)?,
        Record::Interaction(i) => reconcile(doc, i)?,
        Record::Event(e) => reconcile(doc, e)?,
        Record::Meeting(m) => reconcile(doc, m)?,
    }
    Ok(())
}
