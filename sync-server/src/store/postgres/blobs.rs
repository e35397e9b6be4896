//! Blobs in the PostgreSQL store: a row per blob and its chunks, one chunk per
//! transaction. A chunk locks its blob's row, so chunks of one blob arriving at
//! several nodes take turns; a blob's first chunk locks the account's row, so two
//! new blobs of one account cannot both slip under its quota.

use aftercall_shared::protocol::{AccountId, BlobChunk, BlobId, BlobState, ChunkIndex};

use super::super::blobs::{plan_blob_put, BlobLimits, BlobPlan, BlobPut, BlobRow};
use super::{seq_of, PostgresStore};
use crate::RelayError;

impl PostgresStore {
    pub(super) async fn blob_state_of(
        &self,
        account: &AccountId,
        blob: BlobId,
    ) -> Result<BlobState, RelayError> {
        let client = self.pool.get().await?;
        let (key, id) = (&account.0[..], &blob.0[..]);
        let row = client
            .query_opt(
                "SELECT chunks, complete FROM blobs WHERE account = $1 AND id = $2",
                &[&key, &id],
            )
            .await?;
        let Some(row) = row else {
            return Ok(BlobState::Absent);
        };
        let chunks = u32::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        if row.get::<_, bool>(1) {
            return Ok(BlobState::Complete { chunks });
        }
        let present = client
            .query(
                "SELECT idx FROM blob_chunks WHERE account = $1 AND id = $2 ORDER BY idx",
                &[&key, &id],
            )
            .await?
            .iter()
            .map(|r| ChunkIndex(u32::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
            .collect();
        Ok(BlobState::Partial { chunks, present })
    }

    pub(super) async fn put_blob_chunk_in(
        &self,
        account: &AccountId,
        bytes: u64,
        chunk: &BlobChunk,
        limits: BlobLimits,
    ) -> Result<BlobPut, RelayError> {
        let (key, id, index) = (&account.0[..], &chunk.blob.0[..], i64::from(chunk.index.0));
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        super::refuse_moved(&tx, account).await?;
        let read_row = async |tx: &deadpool_postgres::Transaction<'_>| {
            tx.query_opt(
                "SELECT chunks, bytes, stored_bytes, complete FROM blobs
                 WHERE account = $1 AND id = $2 FOR UPDATE",
                &[&key, &id],
            )
            .await
            .map(|row| {
                row.map(|r| BlobRow {
                    chunks: u32::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    bytes: seq_of(r.get(1)),
                    stored_bytes: seq_of(r.get(2)),
                    complete: r.get(3),
                })
            })
        };
        let mut row = read_row(&tx).await?;
        let mut used = 0;
        if row.is_none() {
            // The account's row lock: new blobs of one account take turns at the quota.
            tx.execute("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&key])
                .await?;
            row = read_row(&tx).await?;
            if row.is_none() {
                used = seq_of(
                    tx.query_one(
                        "SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM blobs WHERE account = $1",
                        &[&key],
                    )
                    .await?
                    .get(0),
                );
            }
        }
        let held = row.is_some()
            && tx
                .query_opt(
                    "SELECT 1 FROM blob_chunks WHERE account = $1 AND id = $2 AND idx = $3",
                    &[&key, &id, &index],
                )
                .await?
                .is_some();
        match plan_blob_put(row, held, used, bytes, chunk, limits) {
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
                    "INSERT INTO blobs (account, id, chunks, bytes) VALUES ($1, $2, $3, $4)",
                    &[&key, &id, &i64::from(chunk.chunks), &(bytes as i64)],
                )
                .await?;
            }
            BlobPlan::Store => {}
        }
        tx.execute(
            "INSERT INTO blob_chunks (account, id, idx, sealed) VALUES ($1, $2, $3, $4)",
            &[&key, &id, &index, &chunk.sealed],
        )
        .await?;
        let complete: bool = tx
            .query_one(
                "UPDATE blobs SET stored_chunks = stored_chunks + 1,
                     stored_bytes = stored_bytes + $3,
                     complete = (stored_chunks + 1 = chunks)
                 WHERE account = $1 AND id = $2 RETURNING complete",
                &[&key, &id, &(chunk.sealed.len() as i64)],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(BlobPut::Stored {
            new: true,
            complete,
        })
    }

    pub(super) async fn blob_chunk_of(
        &self,
        account: &AccountId,
        blob: BlobId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT c.sealed FROM blob_chunks c JOIN blobs b ON b.account = c.account AND b.id = c.id
                 WHERE c.account = $1 AND c.id = $2 AND c.idx = $3 AND b.complete",
                &[&&account.0[..], &&blob.0[..], &i64::from(index.0)],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(super) async fn blob_bytes(&self, account: &AccountId) -> Result<u64, RelayError> {
        let client = self.pool.get().await?;
        Ok(seq_of(
            client
                .query_one(
                    "SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM blobs WHERE account = $1",
                    &[&&account.0[..]],
                )
                .await?
                .get(0),
        ))
    }
}
