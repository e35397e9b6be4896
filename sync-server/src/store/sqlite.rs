//! The SQLite relay store: one file, WAL, `synchronous = FULL`.
//!
//! Appends are group-committed: one writer thread with its own connection takes
//! every append waiting for it and stores them in one transaction (each under its
//! own savepoint, so one device's gap or error never touches another's entries),
//! then answers each once the commit is on disk. Alone, an append commits at once;
//! under load, many share one fsync. Reads use a second connection, so a catch-up
//! page never waits behind a commit.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{AppendRefusal, Appended, Registration, RelayStore};
use crate::RelayError;

/// The schema, one migration per step, appended only; `user_version` counts those
/// applied. The first creates its tables only if missing: databases made before
/// migrations were numbered have them already.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS accounts (
    id BLOB PRIMARY KEY,
    verifier BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY,
    used_by BLOB
);
CREATE TABLE IF NOT EXISTS devices (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    head INTEGER NOT NULL,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (account, device, seq)
);
"#,
    // 2: each entry's BLAKE3 hash as received, so damage on disk is found before an
    // entry is sent; entries found damaged, until their device sends them again.
    r#"
ALTER TABLE entries ADD COLUMN sum BLOB;
CREATE TABLE damaged (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account, device, seq)
) WITHOUT ROWID;
"#,
];

fn migrate(conn: &mut Connection) -> Result<(), RelayError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(RelayError::Task(format!(
            "the relay database has schema {version}, newer than this relay; update it"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

fn sum(sealed: &[u8]) -> [u8; 32] {
    *blake3::hash(sealed).as_bytes()
}

/// Appends stored in one transaction at most.
const MAX_GROUP: usize = 256;

/// The relay's data in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    /// Reads, and the rare writes outside appends (accounts, invites).
    conn: Mutex<Connection>,
    /// Appends, to the writer thread.
    appends: Option<SyncSender<AppendJob>>,
    writer: Option<JoinHandle<()>>,
}

/// One append waiting for the writer thread.
#[derive(Debug)]
struct AppendJob {
    account: AccountId,
    entries: Vec<SealedEntry>,
    reply: SyncSender<Result<Appended, RelayError>>,
}

fn connect(path: &Path) -> Result<Connection, RelayError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, RelayError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let mut writer_conn = connect(path)?;
        let (appends, jobs) = mpsc::sync_channel(4 * MAX_GROUP);
        let writer = std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || write_appends(&mut writer_conn, &jobs))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            appends: Some(appends),
            writer: Some(writer),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-written state behind
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The writer finishes what it was given, then its connection closes.
        drop(self.appends.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: takes every waiting append, stores them in one transaction.
fn write_appends(conn: &mut Connection, jobs: &Receiver<AppendJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match append_group(conn, &group) {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storing entries failed");
                for job in group {
                    let _ = job.reply.send(Err(RelayError::Task(format!(
                        "storing entries failed: {e}"
                    ))));
                }
            }
        }
    }
}

/// Stores a group of appends in one transaction; each is all or nothing on its own.
fn append_group(
    conn: &mut Connection,
    group: &[AppendJob],
) -> Result<Vec<Result<Appended, RelayError>>, RelayError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let savepoint = tx.savepoint()?;
        match append_one(&savepoint, &job.account, &job.entries) {
            Ok(appended) => {
                savepoint.commit()?;
                results.push(Ok(appended));
            }
            // Dropping the savepoint rolls this append back; the others stand.
            Err(e) => results.push(Err(e)),
        }
    }
    tx.commit()?;
    Ok(results)
}

/// One device's entries, in order, stopping at the first gap or conflict.
fn append_one(
    tx: &Connection,
    account: &AccountId,
    entries: &[SealedEntry],
) -> Result<Appended, RelayError> {
    let mut out = Appended {
        stored: Vec::new(),
        head: 0,
        refused: None,
    };
    let Some(first) = entries.first() else {
        return Ok(out);
    };
    let device = first.device.as_str();
    let mut head: u64 = tx
        .prepare_cached("SELECT head FROM devices WHERE account = ?1 AND device = ?2")?
        .query_row(params![&account.0[..], device], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64;
    for entry in entries {
        if entry.seq == head + 1 {
            tx.prepare_cached(
                "INSERT INTO entries (account, device, seq, sealed, sum) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                &account.0[..],
                device,
                entry.seq as i64,
                entry.sealed,
                &sum(&entry.sealed)[..]
            ])?;
            head = entry.seq;
            out.stored.push(entry.clone());
        } else if entry.seq <= head {
            let stored: Option<Vec<u8>> = tx
                .prepare_cached(
                    "SELECT sealed FROM entries WHERE account = ?1 AND device = ?2 AND seq = ?3",
                )?
                .query_row(params![&account.0[..], device, entry.seq as i64], |r| {
                    r.get(0)
                })
                .optional()?;
            // A pruned entry cannot be compared; treat a re-push of it as identical.
            if stored.is_some_and(|s| s != entry.sealed) {
                out.refused = Some(AppendRefusal::Conflict { seq: entry.seq });
                break;
            }
        } else {
            out.refused = Some(AppendRefusal::Gap {
                seq: entry.seq,
                head,
            });
            break;
        }
    }
    tx.prepare_cached(
        "INSERT INTO devices (account, device, head) VALUES (?1, ?2, ?3)
         ON CONFLICT(account, device) DO UPDATE SET head = excluded.head",
    )?
    .execute(params![&account.0[..], device, head as i64])?;
    out.head = head;
    Ok(out)
}

impl RelayStore for SqliteStore {
    fn verifier(&self, account: &AccountId) -> Result<Option<[u8; 32]>, RelayError> {
        let v: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT verifier FROM accounts WHERE id = ?1",
                [&account.0[..]],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.and_then(|v| v.try_into().ok()))
    }

    fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if invite_required {
            let used = match invite {
                Some(code) => tx.execute(
                    "UPDATE invites SET used_by = ?1 WHERE code = ?2 AND used_by IS NULL",
                    params![&account.0[..], code],
                )?,
                None => 0,
            };
            if used == 0 {
                return Ok(Registration::InviteRequired);
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO accounts (id, verifier, created_at) VALUES (?1, ?2, strftime('%s','now'))",
            params![&account.0[..], &verifier[..]],
        )?;
        tx.commit()?;
        Ok(Registration::Created)
    }

    fn add_invite(&self, code: &str) -> Result<(), RelayError> {
        self.conn()
            .execute("INSERT INTO invites (code) VALUES (?1)", [code])?;
        Ok(())
    }

    fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT device, head FROM devices WHERE account = ?1 ORDER BY device",
        )?;
        let rows = stmt.query_map([&account.0[..]], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, head) = row?;
            // Only well-formed ids are ever stored; skip anything else rather than fail.
            if let Ok(device) = DeviceId::new(&device) {
                out.push((device, head as u64));
            }
        }
        Ok(out)
    }

    fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, sealed, sum FROM entries WHERE account = ?1 AND device = ?2 AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let mut rows = stmt.query(params![
            &account.0[..],
            device.as_str(),
            after as i64,
            limit as i64
        ])?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            let sealed: Vec<u8> = row.get(1)?;
            let stored_sum: Option<Vec<u8>> = row.get(2)?;
            if stored_sum.is_some_and(|s| s[..] != sum(&sealed)) {
                // Damaged on disk: no device is sent past it until its own device
                // sends it again.
                tracing::warn!(account = %account, device = %device, seq, "stored entry is damaged");
                conn.execute(
                    "INSERT OR IGNORE INTO damaged (account, device, seq) VALUES (?1, ?2, ?3)",
                    params![&account.0[..], device.as_str(), seq as i64],
                )?;
                break;
            }
            if !out.is_empty() && bytes + sealed.len() > max_bytes {
                break;
            }
            bytes += sealed.len();
            out.push(SealedEntry {
                device: device.clone(),
                seq,
                sealed,
            });
        }
        Ok(out)
    }

    fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError> {
        let row: Option<(Vec<u8>, Option<Vec<u8>>)> = self
            .conn()
            .query_row(
                "SELECT sealed, sum FROM entries WHERE account = ?1 AND device = ?2 AND seq = ?3",
                params![&account.0[..], device.as_str(), seq as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(sealed, stored)| {
            stored
                .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                .unwrap_or_else(|| sum(&sealed))
        }))
    }

    fn damaged(&self, account: &AccountId, device: &DeviceId) -> Result<Vec<u64>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq FROM damaged WHERE account = ?1 AND device = ?2 ORDER BY seq LIMIT 1024",
        )?;
        let rows = stmt.query_map(params![&account.0[..], device.as_str()], |r| {
            r.get::<_, i64>(0)
        })?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut repaired = Vec::new();
        for entry in entries {
            let key = params![&account.0[..], entry.device.as_str(), entry.seq as i64];
            if tx.execute(
                "DELETE FROM damaged WHERE account = ?1 AND device = ?2 AND seq = ?3",
                key,
            )? == 0
            {
                continue; // Not damaged: stored entries are never replaced.
            }
            tx.execute(
                "UPDATE entries SET sealed = ?4, sum = ?5
                 WHERE account = ?1 AND device = ?2 AND seq = ?3",
                params![
                    &account.0[..],
                    entry.device.as_str(),
                    entry.seq as i64,
                    entry.sealed,
                    &sum(&entry.sealed)[..]
                ],
            )?;
            repaired.push(entry.clone());
        }
        tx.commit()?;
        Ok(repaired)
    }

    fn append(&self, account: &AccountId, entries: &[SealedEntry]) -> Result<Appended, RelayError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = AppendJob {
            account: *account,
            entries: entries.to_vec(),
            reply,
        };
        let gone = || RelayError::Task("the relay's writer has stopped".into());
        self.appends
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, byte: u8) -> SealedEntry {
        SealedEntry {
            device: DeviceId::new("phone").unwrap(),
            seq,
            sealed: vec![byte; 48],
        }
    }

    #[test]
    fn entries_are_stored_in_order_and_gaps_and_conflicts_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap();
        let account = AccountId([1; 16]);
        let out = store.append(&account, &[entry(1, 1), entry(2, 2)]).unwrap();
        assert_eq!((out.stored.len(), out.head, out.refused), (2, 2, None));

        let again = store.append(&account, &[entry(2, 2), entry(3, 3)]).unwrap();
        assert_eq!(
            again.stored,
            vec![entry(3, 3)],
            "identical re-push accepted, new one stored"
        );

        let conflict = store.append(&account, &[entry(3, 9)]).unwrap();
        assert_eq!(conflict.refused, Some(AppendRefusal::Conflict { seq: 3 }));

        let gap = store.append(&account, &[entry(5, 5)]).unwrap();
        assert_eq!(gap.refused, Some(AppendRefusal::Gap { seq: 5, head: 3 }));
        assert_eq!(gap.head, 3);

        let page = store
            .entries_after(
                &account,
                &DeviceId::new("phone").unwrap(),
                1,
                10,
                usize::MAX,
            )
            .unwrap();
        assert_eq!(page, vec![entry(2, 2), entry(3, 3)]);
        assert!(store.heads(&AccountId([2; 16])).unwrap().is_empty());
    }

    #[test]
    fn appends_grouped_in_one_transaction_each_stand_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap();
        let account = AccountId([1; 16]);
        store.append(&account, &[entry(1, 1)]).unwrap();
        let job = |device: &str, entries: Vec<SealedEntry>| {
            let entries = entries
                .into_iter()
                .map(|e| SealedEntry {
                    device: DeviceId::new(device).unwrap(),
                    ..e
                })
                .collect();
            AppendJob {
                account,
                entries,
                reply: mpsc::sync_channel(1).0,
            }
        };
        let group = [
            job("laptop", vec![entry(1, 1), entry(2, 2)]),
            // A gap: what comes before it is stored, the rest refused.
            job("phone", vec![entry(2, 2), entry(4, 4)]),
            // A conflict at the phone's first entry: nothing of it is stored.
            job("phone", vec![entry(1, 7)]),
            job("tablet", vec![entry(1, 1)]),
        ];
        let mut conn = connect(&dir.path().join("relay.sqlite")).unwrap();
        let results: Vec<Appended> = append_group(&mut conn, &group)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results[0].head, 2);
        assert_eq!(
            results[1].refused,
            Some(AppendRefusal::Gap { seq: 4, head: 2 })
        );
        assert_eq!(results[1].stored.len(), 1);
        assert_eq!(results[2].refused, Some(AppendRefusal::Conflict { seq: 1 }));
        assert_eq!(results[3].head, 1);
        let mut heads: Vec<(String, u64)> = store
            .heads(&account)
            .unwrap()
            .into_iter()
            .map(|(d, h)| (d.as_str().to_string(), h))
            .collect();
        heads.sort();
        assert_eq!(
            heads,
            [
                ("laptop".into(), 2),
                ("phone".into(), 2),
                ("tablet".into(), 1)
            ]
        );
    }

    #[test]
    fn appends_from_many_threads_at_once_all_land_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            std::sync::Arc::new(SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap());
        let account = AccountId([3; 16]);
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let device = DeviceId::new(&format!("device-{t}")).unwrap();
                    for seq in 1..=40u64 {
                        let e = SealedEntry {
                            device: device.clone(),
                            seq,
                            sealed: vec![t as u8; 32],
                        };
                        let out = store.append(&account, &[e]).unwrap();
                        assert_eq!((out.head, out.stored.len()), (seq, 1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let heads = store.heads(&account).unwrap();
        assert_eq!(heads.len(), 16);
        assert!(heads.iter().all(|(_, h)| *h == 40), "{heads:?}");
        let page = store
            .entries_after(
                &account,
                &DeviceId::new("device-7").unwrap(),
                0,
                100,
                usize::MAX,
            )
            .unwrap();
        assert_eq!(page.len(), 40);
        assert!(page.iter().all(|e| e.sealed == vec![7u8; 32]));
    }

    #[test]
    fn closed_registration_takes_each_invite_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap();
        store.add_invite("welcome-1").unwrap();
        let (a, b) = (AccountId([1; 16]), AccountId([2; 16]));
        assert_eq!(
            store.create_account(&a, [0; 32], true, None).unwrap(),
            Registration::InviteRequired
        );
        assert_eq!(
            store
                .create_account(&a, [0; 32], true, Some("welcome-1"))
                .unwrap(),
            Registration::Created
        );
        assert_eq!(
            store
                .create_account(&b, [0; 32], true, Some("welcome-1"))
                .unwrap(),
            Registration::InviteRequired
        );
        assert!(store.verifier(&a).unwrap().is_some());
        assert!(store.verifier(&b).unwrap().is_none());
    }
}
