//! Blobs in the SQLite store: a row per blob and its chunks, one chunk per
//! transaction.

use aftercall_shared::protocol::{BlobChunk, BlobId, BlobState, ChunkIndex};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::super::blobs::{plan_blob_put, BlobLimits, BlobPlan, BlobPut, BlobRow};
use super::Files;
use crate::RelayError;
use aftercall_shared::protocol::AccountId;

impl Files {
    pub(super) fn blob_state(
        &self,
        account: &AccountId,
        blob: BlobId,
    ) -> Result<BlobState, RelayError> {
        let conn = self.conn();
        let (key, id) = (&account.0[..], &blob.0[..]);
        let row: Option<(u32, bool)> = conn
            .prepare_cached("SELECT chunks, complete FROM blobs WHERE account = ?1 AND id = ?2")?
            .query_row(params![key, id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            None => BlobState::Absent,
            Some((chunks, true)) => BlobState::Complete { chunks },
            Some((chunks, false)) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT idx FROM blob_chunks WHERE account = ?1 AND id = ?2 ORDER BY idx",
                )?;
                let present = stmt
                    .query_map(params![key, id], |r| r.get::<_, u32>(0))?
                    .map(|i| i.map(ChunkIndex))
                    .collect::<Result<_, _>>()?;
                BlobState::Partial { chunks, present }
            }
        })
    }

    pub(super) fn put_blob_chunk(
        &self,
        account: &AccountId,
        bytes: u64,
        chunk: &BlobChunk,
        limits: BlobLimits,
    ) -> Result<BlobPut, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::refuse_moved(&tx, account)?;
        let (key, id, index) = (&account.0[..], &chunk.blob.0[..], chunk.index.0);
        let row = tx
            .query_row(
                "SELECT chunks, bytes, stored_bytes, complete FROM blobs WHERE account = ?1 AND id = ?2",
                params![key, id],
                |r| {
                    Ok(BlobRow {
                        chunks: r.get(0)?,
                        bytes: r.get::<_, i64>(1)? as u64,
                        stored_bytes: r.get::<_, i64>(2)? as u64,
                        complete: r.get(3)?,
                    })
                },
            )
            .optional()?;
        let held = row.is_some()
            && tx
                .query_row(
                    "SELECT 1 FROM blob_chunks WHERE account = ?1 AND id = ?2 AND idx = ?3",
                    params![key, id, index],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
        let used: i64 = match row {
            Some(_) => 0,
            None => tx.query_row(
                "SELECT COALESCE(SUM(bytes), 0) FROM blobs WHERE account = ?1",
                [key],
                |r| r.get(0),
            )?,
        };
        match plan_blob_put(row, held, used as u64, bytes, chunk, limits) {
            BlobPlan::Refuse(why) => return Ok(BlobPut::Refused(why)),
            BlobPlan::Complete => {
                return Ok(BlobPut::Stored {
                    new: false,
                    complete: true,
                })
            }
            BlobPlan::Held => {
                return Ok(BlobPut::Stored {
                    new: false,
                    complete: false,
                })
            }
            BlobPlan::Create => {
                tx.execute(
                    "INSERT INTO blobs (account, id, chunks, bytes) VALUES (?1, ?2, ?3, ?4)",
                    params![key, id, chunk.chunks, bytes as i64],
                )?;
            }
            BlobPlan::Store => {}
        }
        tx.execute(
            "INSERT INTO blob_chunks (account, id, idx, sealed) VALUES (?1, ?2, ?3, ?4)",
            params![key, id, index, &chunk.sealed],
        )?;
        tx.execute(
            "UPDATE blobs SET stored_chunks = stored_chunks + 1,
                 stored_bytes = stored_bytes + ?3,
                 complete = (stored_chunks + 1 = chunks)
             WHERE account = ?1 AND id = ?2",
            params![key, id, chunk.sealed.len() as i64],
        )?;
        let complete: bool = tx.query_row(
            "SELECT complete FROM blobs WHERE account = ?1 AND id = ?2",
            params![key, id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(BlobPut::Stored {
            new: true,
            complete,
        })
    }

    pub(super) fn blob_chunk(
        &self,
        account: &AccountId,
        blob: BlobId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT c.sealed FROM blob_chunks c JOIN blobs b ON b.account = c.account AND b.id = c.id
                 WHERE c.account = ?1 AND c.id = ?2 AND c.idx = ?3 AND b.complete = 1",
            )?
            .query_row(params![&account.0[..], &blob.0[..], index.0], |r| r.get(0))
            .optional()?)
    }

    pub(super) fn blob_bytes(&self, account: &AccountId) -> Result<u64, RelayError> {
        let bytes: i64 = self.conn().query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM blobs WHERE account = ?1",
            [&account.0[..]],
            |r| r.get(0),
        )?;
        Ok(bytes as u64)
    }
}
