//! The engine's blob transfers: attachments' content, sealed in chunks, up to the
//! relay and down from it, one blob at a time and outside the log.
//!
//! Once a session is live, the engine asks the driver for the blobs to upload and
//! those to download ([`Effect::ListBlobs`]). An upload reads the blob
//! ([`Effect::ReadBlob`]), asks the relay which of its chunks it holds
//! (`BlobHave`), sends only the missing ones, a few in flight at a time, and
//! reports the blob uploaded ([`Effect::BlobUploaded`]) once the relay says it is
//! complete (at once when another device stored it already). A download asks for
//! the chunks (`BlobGet`), opens each as it comes, checks the whole against its
//! content hash and hands it to the store ([`Effect::StoreBlob`]). A chunk that does
//! not open, or a whole that does not hash right, is reported
//! ([`Effect::BlobRejected`]) and the blob fetched again, once per session; a
//! refusal (quota, per-file limit, not on the relay) is reported
//! ([`Effect::BlobRefused`]) and the next blob goes on. Blobs finished, refused or
//! given up in a session are not tried again in it.

use std::collections::{HashSet, VecDeque};

use super::engine::Effect;
use crate::crypto::{blob_chunk_count, AccountKeys, BlobReader, BlobSealer};
use crate::model::BlobHash;
use crate::protocol::{BlobChunk, BlobId, BlobState, ChunkIndex, ClientMessage, Refusal};

/// Chunks of an upload sent ahead of the relay's acknowledgement.
const WINDOW: usize = 4;

/// How many times one session fetches a blob whose chunks were rejected.
const FETCHES: u32 = 2;

/// Which way a blob travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlobDirection {
    Upload,
    Download,
}

/// The blob transfer in progress, for the sync status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProgress {
    pub hash: BlobHash,
    pub direction: BlobDirection,
    /// Chunks sent and acknowledged, or received and opened.
    pub done_chunks: u32,
    pub chunks: u32,
    /// Blobs waiting after this one.
    pub waiting: usize,
}

#[derive(Debug)]
enum Job {
    Upload(BlobHash),
    Download(BlobHash, u64),
}

#[derive(Debug)]
enum Current {
    /// Waiting for the blob's content from the store.
    Reading(BlobHash),
    /// `BlobHave` sent.
    Asking(BlobHash, BlobSealer),
    /// Sending the chunks the relay lacks.
    Sending {
        hash: BlobHash,
        sealer: BlobSealer,
        missing: VecDeque<u32>,
        in_flight: usize,
        acknowledged: u32,
    },
    /// Receiving chunks; after a rejected chunk, the rest of that fetch is skipped
    /// until its last chunk has gone by (`skipping`), then it is fetched again.
    Fetching {
        hash: BlobHash,
        reader: Box<BlobReader>,
        fetches: u32,
        skipping: bool,
    },
}

impl Current {
    fn hash(&self) -> BlobHash {
        match self {
            Current::Reading(hash)
            | Current::Asking(hash, _)
            | Current::Sending { hash, .. }
            | Current::Fetching { hash, .. } => *hash,
        }
    }

    fn blob(&self) -> Option<BlobId> {
        match self {
            Current::Reading(_) => None,
            Current::Asking(_, sealer) | Current::Sending { sealer, .. } => Some(sealer.blob()),
            Current::Fetching { reader, .. } => Some(reader.blob()),
        }
    }
}

/// One session's blob transfers.
#[derive(Debug, Default)]
pub(super) struct BlobSync {
    /// The lists are to be asked for again (caught up, a local write, a nudge).
    lists_due: bool,
    listing: bool,
    jobs: VecDeque<Job>,
    current: Option<Current>,
    /// Blobs finished, refused or given up in this session.
    settled: HashSet<BlobHash>,
}

fn send(msg: ClientMessage, out: &mut Vec<Effect>) {
    out.push(Effect::Send(msg.encode()));
}

impl BlobSync {
    /// Forgets everything of a session.
    pub fn reset(&mut self) {
        *self = BlobSync::default();
    }

    /// Nothing to transfer and nothing asked.
    pub fn is_idle(&self) -> bool {
        !self.lists_due && !self.listing && self.current.is_none() && self.jobs.is_empty()
    }

    /// Asks for the lists again at the next chance.
    pub fn due(&mut self) {
        self.lists_due = true;
    }

    pub fn progress(&self) -> Option<BlobProgress> {
        let waiting = self.jobs.len();
        let (hash, direction, done_chunks, chunks) = match self.current.as_ref()? {
            Current::Reading(_) => return None,
            Current::Asking(hash, sealer) => (*hash, BlobDirection::Upload, 0, sealer.chunks()),
            Current::Sending {
                hash,
                sealer,
                acknowledged,
                ..
            } => (*hash, BlobDirection::Upload, *acknowledged, sealer.chunks()),
            Current::Fetching { hash, reader, .. } => (
                *hash,
                BlobDirection::Download,
                reader.received(),
                reader.chunks(),
            ),
        };
        Some(BlobProgress {
            hash,
            direction,
            done_chunks,
            chunks,
            waiting,
        })
    }

    /// Starts the next step when the session may transfer (`ready`): the lists
    /// when due, else the next blob.
    pub fn step(&mut self, ready: bool, keys: &AccountKeys, out: &mut Vec<Effect>) {
        if !ready || self.listing || self.current.is_some() {
            return;
        }
        while let Some(job) = self.jobs.pop_front() {
            match job {
                Job::Upload(hash) if !self.settled.contains(&hash) => {
                    self.current = Some(Current::Reading(hash));
                    out.push(Effect::ReadBlob { hash });
                    return;
                }
                Job::Download(hash, size)
                    if !self.settled.contains(&hash) && self.fetch(keys, hash, size, 1, out) =>
                {
                    return;
                }
                _ => {}
            }
        }
        if self.lists_due {
            self.lists_due = false;
            self.listing = true;
            out.push(Effect::ListBlobs);
        }
    }

    /// The driver's lists: blobs to upload, and blobs to download with their sizes.
    pub fn lists(&mut self, uploads: Vec<(BlobHash, u64)>, downloads: Vec<(BlobHash, u64)>) {
        self.listing = false;
        let queued: HashSet<BlobHash> = self
            .jobs
            .iter()
            .map(|j| match j {
                Job::Upload(h) | Job::Download(h, _) => *h,
            })
            .collect();
        let fresh = |h: &BlobHash| !self.settled.contains(h) && !queued.contains(h);
        let mut jobs: Vec<Job> = uploads
            .into_iter()
            .filter(|(h, _)| fresh(h))
            .map(|(h, _)| Job::Upload(h))
            .collect();
        jobs.extend(
            downloads
                .into_iter()
                .filter(|(h, _)| fresh(h))
                .map(|(h, size)| Job::Download(h, size)),
        );
        self.jobs.extend(jobs);
    }

    /// The content of the blob being uploaded, read from the store.
    pub fn content(
        &mut self,
        keys: &AccountKeys,
        hash: BlobHash,
        content: Option<Vec<u8>>,
        out: &mut Vec<Effect>,
    ) {
        if !matches!(&self.current, Some(Current::Reading(h)) if *h == hash) {
            return;
        }
        self.current = None;
        let Some(content) = content else {
            // Gone from the store meanwhile: nothing to send.
            self.settled.insert(hash);
            return;
        };
        match BlobSealer::new(keys, hash.as_bytes(), content) {
            Ok(sealer) => {
                send(
                    ClientMessage::BlobHave {
                        blob: sealer.blob(),
                    },
                    out,
                );
                self.current = Some(Current::Asking(hash, sealer));
            }
            Err(fault) => {
                self.settled.insert(hash);
                out.push(Effect::BlobRejected { hash, fault });
            }
        }
    }

    /// Starts fetch number `fetches` of a blob; false if it cannot be fetched.
    fn fetch(
        &mut self,
        keys: &AccountKeys,
        hash: BlobHash,
        size: u64,
        fetches: u32,
        out: &mut Vec<Effect>,
    ) -> bool {
        let reader = blob_chunk_count(size)
            .and_then(|chunks| BlobReader::new(keys, *hash.as_bytes(), chunks));
        match reader {
            Ok(reader) => {
                send(
                    ClientMessage::BlobGet {
                        blob: reader.blob(),
                        from: ChunkIndex(0),
                    },
                    out,
                );
                self.current = Some(Current::Fetching {
                    hash,
                    reader: Box::new(reader),
                    fetches,
                    skipping: false,
                });
                true
            }
            Err(fault) => {
                self.settled.insert(hash);
                out.push(Effect::BlobRejected { hash, fault });
                false
            }
        }
    }

    /// What the relay holds of the blob being uploaded.
    pub fn status(
        &mut self,
        keys: &AccountKeys,
        blob: BlobId,
        state: BlobState,
        out: &mut Vec<Effect>,
    ) {
        let Some(Current::Asking(hash, sealer)) = self
            .current
            .take_if(|c| matches!(c, Current::Asking(_, s) if s.blob() == blob))
        else {
            return;
        };
        let missing: VecDeque<u32> = match state {
            BlobState::Complete { .. } => return self.uploaded(hash, out),
            BlobState::Absent => (0..sealer.chunks()).collect(),
            // An upload of another shape (another version of this app): send it all,
            // and the relay says whether it fits.
            BlobState::Partial { chunks, present } if chunks == sealer.chunks() => {
                let have: HashSet<u32> = present.iter().map(|i| i.0).collect();
                (0..sealer.chunks()).filter(|i| !have.contains(i)).collect()
            }
            BlobState::Partial { .. } => (0..sealer.chunks()).collect(),
        };
        let acknowledged = sealer.chunks() - missing.len() as u32;
        self.current = Some(Current::Sending {
            hash,
            sealer,
            missing,
            in_flight: 0,
            acknowledged,
        });
        self.send_window(keys, out);
    }

    fn send_window(&mut self, keys: &AccountKeys, out: &mut Vec<Effect>) {
        let Some(Current::Sending {
            sealer,
            missing,
            in_flight,
            ..
        }) = self.current.as_mut()
        else {
            return;
        };
        while *in_flight < WINDOW {
            let Some(index) = missing.pop_front() else {
                break;
            };
            if let Some(chunk) = sealer.chunk(keys, index) {
                *in_flight += 1;
                send(
                    ClientMessage::BlobPut {
                        bytes: sealer.sealed_len(),
                        chunk,
                    },
                    out,
                );
            }
        }
    }

    /// The relay stored a chunk of the blob being uploaded.
    pub fn chunk_stored(
        &mut self,
        keys: &AccountKeys,
        blob: BlobId,
        complete: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some(Current::Sending {
            hash,
            sealer,
            in_flight,
            acknowledged,
            ..
        }) = self.current.as_mut()
        else {
            return;
        };
        if sealer.blob() != blob {
            return;
        }
        *in_flight = in_flight.saturating_sub(1);
        *acknowledged += 1;
        if complete {
            let hash = *hash;
            self.current = None;
            return self.uploaded(hash, out);
        }
        self.send_window(keys, out);
    }

    fn uploaded(&mut self, hash: BlobHash, out: &mut Vec<Effect>) {
        self.settled.insert(hash);
        out.push(Effect::BlobUploaded { hash });
    }

    /// A chunk of the blob being downloaded.
    pub fn chunk(&mut self, keys: &AccountKeys, chunk: &BlobChunk, out: &mut Vec<Effect>) {
        let Some(Current::Fetching {
            hash,
            reader,
            fetches,
            skipping,
        }) = self.current.as_mut()
        else {
            return;
        };
        if reader.blob() != chunk.blob {
            return;
        }
        let (hash, fetches) = (*hash, *fetches);
        let last = chunk.index.0 + 1 >= chunk.chunks;
        if *skipping {
            if last {
                self.refetch(keys, hash, fetches, out);
            }
            return;
        }
        if let Err(fault) = reader.add(keys, chunk) {
            out.push(Effect::BlobRejected { hash, fault });
            if last {
                self.refetch(keys, hash, fetches, out);
            } else if let Some(Current::Fetching { skipping, .. }) = self.current.as_mut() {
                *skipping = true;
            }
            return;
        }
        if !reader.is_complete() {
            return;
        }
        let Some(Current::Fetching { reader, .. }) = self.current.take() else {
            return;
        };
        match reader.finish() {
            Ok(content) => {
                self.settled.insert(hash);
                out.push(Effect::StoreBlob { hash, content });
            }
            Err(fault) => {
                out.push(Effect::BlobRejected { hash, fault });
                self.refetch(keys, hash, fetches, out);
            }
        }
    }

    /// Fetches a rejected blob again, unless this session has tried enough.
    fn refetch(&mut self, keys: &AccountKeys, hash: BlobHash, fetches: u32, out: &mut Vec<Effect>) {
        let size = match self.current.take() {
            Some(Current::Fetching { reader, .. }) => Some(reader.chunks()),
            _ => None,
        };
        match size {
            Some(chunks) if fetches < FETCHES => {
                let reader = BlobReader::new(keys, *hash.as_bytes(), chunks);
                if let Ok(reader) = reader {
                    send(
                        ClientMessage::BlobGet {
                            blob: reader.blob(),
                            from: ChunkIndex(0),
                        },
                        out,
                    );
                    self.current = Some(Current::Fetching {
                        hash,
                        reader: Box::new(reader),
                        fetches: fetches + 1,
                        skipping: false,
                    });
                    return;
                }
                self.settled.insert(hash);
            }
            _ => {
                self.settled.insert(hash);
            }
        }
    }

    /// The relay refused a request about `blob`: reported, and the next blob goes on.
    pub fn refused(&mut self, blob: BlobId, refusal: Refusal, out: &mut Vec<Effect>) {
        if self.current.as_ref().and_then(Current::blob) != Some(blob) {
            return;
        }
        if let Some(current) = self.current.take() {
            let hash = current.hash();
            self.settled.insert(hash);
            out.push(Effect::BlobRefused { hash, refusal });
        }
    }
}
