//! The engine's decisions, driven by hand-made frames (no store, no network).

use super::*;
use crate::crypto::{seal, AccountSecret, OpenEntry};
use crate::env::SeededEntropy;
use crate::protocol::{ClientMessage, DeviceId, SealedEntry, ServerMessage};
use crate::LogEntry;

fn keys(seed: u64) -> crate::crypto::AccountKeys {
    AccountSecret::generate(&mut SeededEntropy::new(seed)).keys()
}

fn entry(keys_seed: u64, device: &str, seq: u64) -> SealedEntry {
    let open = OpenEntry {
        device: DeviceId::new(device).unwrap(),
        seq,
        plaintext: LogEntry::encode_changes(&[]),
    };
    seal(&keys(keys_seed), &open)
}

fn welcome(own_head: u64) -> ServerMessage {
    ServerMessage::Welcome {
        own_head,
        own_hash: None,
        damaged: Vec::new(),
    }
}

fn frame(msg: ServerMessage) -> Event {
    Event::Frame(msg.encode())
}

fn connected(engine: &mut Engine, cursors: Vec<(String, u64)>, own_head: u64) -> Vec<Effect> {
    let mut out = engine.handle(Event::Connected {
        cursors,
        own_head,
        acked: 0,
    });
    out.extend(engine.handle(frame(welcome(0))));
    out
}

fn applied(effects: &[Effect]) -> Vec<(String, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Apply(o) => Some((o.device.to_string(), o.seq)),
            _ => None,
        })
        .collect()
}

fn quarantined(effects: &[Effect]) -> Vec<(String, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Quarantine { entry, .. } => Some((entry.device.to_string(), entry.seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn hello_carries_the_cursor_vector_and_welcome_starts_the_upload() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions {
            create_account: true,
            ..Default::default()
        },
    );
    let out = engine.handle(Event::Connected {
        cursors: vec![("laptop".into(), 4)],
        own_head: 3,
        acked: 0,
    });
    let Some(Effect::Send(hello)) = out.first() else {
        panic!("no hello: {out:?}")
    };
    match ClientMessage::decode(hello).unwrap() {
        ClientMessage::Hello {
            cursors, create, ..
        } => {
            assert!(create);
            assert_eq!(cursors.len(), 1);
            assert_eq!((cursors[0].device.as_str(), cursors[0].seq), ("laptop", 4));
        }
        other => panic!("{other:?}"),
    }
    let out = engine.handle(frame(welcome(1)));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::ReadOwnLog { after: 1, .. })));
    let out = engine.handle(Event::OwnEntries(vec![
        (2, LogEntry::encode_changes(&[])),
        (3, LogEntry::encode_changes(&[])),
    ]));
    let Some(Effect::Send(push)) = out.first() else {
        panic!("no push: {out:?}")
    };
    let ClientMessage::Push { entries } = ClientMessage::decode(push).unwrap() else {
        panic!("not a push")
    };
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(engine.pending_upload(), 2);
    engine.handle(frame(ServerMessage::Stored { up_to: 3 }));
    let out = engine.handle(frame(ServerMessage::CaughtUp));
    // Caught up, the blobs to move are asked for; up to date once there are none.
    assert!(out.iter().any(|e| matches!(e, Effect::ListBlobs)));
    assert!(!engine.is_up_to_date());
    engine.handle(Event::BlobLists {
        uploads: Vec::new(),
        downloads: Vec::new(),
    });
    assert!(engine.is_up_to_date());
}

#[test]
fn re_deliveries_are_skipped_and_gaps_quarantined_without_blocking_other_devices() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions::default(),
    );
    connected(&mut engine, vec![("laptop".into(), 1)], 0);
    let mut out = engine.handle(frame(ServerMessage::Entries {
        entries: vec![
            entry(1, "laptop", 1), // already applied
            entry(1, "laptop", 3), // 2 is missing
            entry(1, "tablet", 1),
            entry(1, "laptop", 4),
            entry(1, "tablet", 2),
            entry(1, "tablet", 2), // duplicate in the same page
        ],
    }));
    assert!(
        quarantined(&out).is_empty(),
        "early entries wait for catch-up to end"
    );
    out.extend(engine.handle(frame(ServerMessage::CaughtUp)));
    assert_eq!(
        applied(&out),
        vec![("tablet".into(), 1), ("tablet".into(), 2)]
    );
    assert_eq!(
        quarantined(&out),
        vec![("laptop".into(), 3), ("laptop".into(), 4)]
    );
}

#[test]
fn reordered_and_replayed_deliveries_apply_each_entry_once_in_order() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions::default(),
    );
    connected(&mut engine, vec![], 0);
    let page = |seqs: &[u64]| {
        frame(ServerMessage::Entries {
            entries: seqs.iter().map(|&s| entry(1, "laptop", s)).collect(),
        })
    };
    let mut out = engine.handle(page(&[3, 1, 3]));
    out.extend(engine.handle(page(&[2, 1, 2, 4])));
    out.extend(engine.handle(frame(ServerMessage::CaughtUp)));
    out.extend(engine.handle(page(&[4, 2, 1])));
    let seqs: Vec<u64> = applied(&out).into_iter().map(|(_, s)| s).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(quarantined(&out).is_empty());
}

#[test]
fn a_forged_entry_is_quarantined_and_the_next_one_of_its_device_waits_behind_it() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions::default(),
    );
    connected(&mut engine, vec![], 0);
    let mut flipped = entry(1, "laptop", 2);
    flipped.sealed[30] ^= 0x01;
    let out = engine.handle(frame(ServerMessage::Entries {
        entries: vec![
            entry(1, "laptop", 1),
            flipped,
            entry(1, "laptop", 3),
            entry(2, "tablet", 1),
            entry(1, "desk", 1),
        ],
    }));
    assert_eq!(
        applied(&out),
        vec![("laptop".into(), 1), ("desk".into(), 1)]
    );
    assert_eq!(
        quarantined(&out),
        vec![
            ("laptop".into(), 2),
            ("laptop".into(), 3),
            ("tablet".into(), 1)
        ]
    );
}

#[test]
fn a_paired_device_with_the_wrong_key_fails_and_uploads_nothing() {
    let mut engine = Engine::new(
        keys(2),
        DeviceId::new("phone").unwrap(),
        EngineOptions {
            must_prove_key: true,
            ..Default::default()
        },
    );
    let mut out = engine.handle(Event::Connected {
        cursors: vec![],
        own_head: 5,
        acked: 0,
    });
    out.extend(engine.handle(frame(welcome(0))));
    out.extend(engine.handle(frame(ServerMessage::Entries {
        entries: vec![entry(1, "laptop", 1)],
    })));
    out.extend(engine.handle(frame(ServerMessage::CaughtUp)));
    assert!(!out
        .iter()
        .any(|e| matches!(e, Effect::ReadOwnLog { .. } | Effect::Quarantine { .. })));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Failed(SyncError::WrongKey))));
    assert_eq!(engine.phase(), Phase::Failed);
}

#[test]
fn a_paired_device_uploads_once_its_key_opened_an_entry() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions {
            must_prove_key: true,
            ..Default::default()
        },
    );
    engine.handle(Event::Connected {
        cursors: vec![],
        own_head: 2,
        acked: 0,
    });
    let out = engine.handle(frame(welcome(0)));
    assert!(!out.iter().any(|e| matches!(e, Effect::ReadOwnLog { .. })));
    let out = engine.handle(frame(ServerMessage::Entries {
        entries: vec![entry(1, "laptop", 1)],
    }));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::ReadOwnLog { after: 0, .. })));
    assert!(engine.key_proven());
}

#[test]
fn garbage_from_the_relay_ends_the_session_without_panicking() {
    let mut engine = Engine::new(
        keys(1),
        DeviceId::new("phone").unwrap(),
        EngineOptions::default(),
    );
    connected(&mut engine, vec![], 0);
    let out = engine.handle(Event::Frame(vec![2, 2, 0xff, 0xff]));
    assert!(matches!(
        out.as_slice(),
        [Effect::Failed(SyncError::Protocol(_))]
    ));
}

mod checkpoints {
    use super::*;
    use crate::crypto::{seal_checkpoint, CheckpointFault};
    use crate::protocol::{CheckpointId, Cursor, SealedChunk};

    fn covers(seq: u64) -> Vec<Cursor> {
        vec![Cursor {
            device: DeviceId::new("laptop").unwrap(),
            seq,
        }]
    }

    /// A checkpoint of `body` covering the laptop up to `seq`, sealed under `seed`.
    fn checkpoint(seed: u64, seq: u64, body: &[u8]) -> (CheckpointId, Vec<SealedChunk>) {
        seal_checkpoint(&keys(seed), &covers(seq), body)
    }

    fn offer(id: CheckpointId, chunks: usize, seq: u64) -> Event {
        frame(ServerMessage::CheckpointOffer {
            checkpoint: id,
            chunks: chunks as u32,
            covers: covers(seq),
            required: false,
        })
    }

    fn sent(effects: &[Effect]) -> Vec<ClientMessage> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(f) => Some(ClientMessage::decode(f).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn engine(options: EngineOptions) -> Engine {
        Engine::new(keys(1), DeviceId::new("phone").unwrap(), options)
    }

    #[test]
    fn an_offered_checkpoint_is_taken_loaded_and_only_the_tail_after_it_applies() {
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        let body = vec![3u8; 2 * crate::crypto::CHUNK_PLAINTEXT];
        let (id, chunks) = checkpoint(1, 5, &body);
        let out = engine.handle(offer(id, chunks.len(), 5));
        assert_eq!(
            sent(&out),
            [ClientMessage::TakeCheckpoint {
                checkpoint: Some(id)
            }]
        );
        assert_eq!(engine.phase(), Phase::LoadingCheckpoint);
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(engine.handle(frame(ServerMessage::CheckpointChunk(chunk))));
        }
        let loaded: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                Effect::LoadCheckpoint(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].body, body);
        assert_eq!(loaded[0].covers, covers(5));
        assert_eq!(engine.phase(), Phase::CatchingUp);
        // What the checkpoint holds is not applied again; what follows is.
        let out = engine.handle(frame(ServerMessage::Entries {
            entries: vec![entry(1, "laptop", 5), entry(1, "laptop", 6)],
        }));
        assert_eq!(applied(&out), [("laptop".to_string(), 6)]);
    }

    #[test]
    fn a_forged_chunk_rejects_the_checkpoint_and_ends_the_session() {
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        let (id, _) = checkpoint(1, 5, b"the real one");
        // Sealed under another key and relabelled with the offered id.
        let (_, forged) = checkpoint(2, 5, b"the real one");
        engine.handle(offer(id, 1, 5));
        let chunk = SealedChunk {
            checkpoint: id,
            ..forged[0].clone()
        };
        let out = engine.handle(frame(ServerMessage::CheckpointChunk(chunk)));
        assert!(out.iter().any(|e| matches!(
            e,
            Effect::RejectCheckpoint { checkpoint, fault: CheckpointFault::DoesNotOpen { .. } }
                if *checkpoint == id
        )));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Failed(SyncError::BadCheckpoint(_)))));
        assert_eq!(engine.phase(), Phase::Failed);
    }

    #[test]
    fn a_checkpoint_whose_body_does_not_load_is_rejected() {
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        let (id, chunks) = checkpoint(1, 5, b"not cbor");
        engine.handle(offer(id, chunks.len(), 5));
        engine.handle(frame(ServerMessage::CheckpointChunk(chunks[0].clone())));
        let out = engine.handle(Event::CheckpointLoadFailed {
            checkpoint: id,
            reason: "does not parse".into(),
        });
        assert!(out.iter().any(|e| matches!(
            e,
            Effect::RejectCheckpoint {
                fault: CheckpointFault::DoesNotParse { .. },
                ..
            }
        )));
        assert_eq!(engine.phase(), Phase::Failed);
    }

    #[test]
    fn a_checkpoint_rejected_before_is_declined_and_the_log_asked_for() {
        let (id, chunks) = checkpoint(1, 5, b"body");
        let mut engine = engine(EngineOptions {
            rejected_checkpoint: Some(id),
            ..EngineOptions::default()
        });
        connected(&mut engine, Vec::new(), 0);
        let out = engine.handle(offer(id, chunks.len(), 5));
        assert_eq!(
            sent(&out),
            [ClientMessage::TakeCheckpoint { checkpoint: None }]
        );
        assert_eq!(engine.phase(), Phase::CatchingUp);
        let out = engine.handle(frame(ServerMessage::Entries {
            entries: vec![entry(1, "laptop", 1)],
        }));
        assert_eq!(applied(&out), [("laptop".to_string(), 1)]);
    }

    #[test]
    fn entries_in_the_middle_of_a_checkpoint_are_out_of_turn() {
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        let (id, chunks) = checkpoint(1, 5, &vec![1u8; crate::crypto::CHUNK_PLAINTEXT + 1]);
        engine.handle(offer(id, chunks.len(), 5));
        engine.handle(frame(ServerMessage::CheckpointChunk(chunks[0].clone())));
        let out = engine.handle(frame(ServerMessage::Entries {
            entries: vec![entry(1, "laptop", 6)],
        }));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Failed(SyncError::OutOfTurn(_)))));
    }

    #[test]
    fn a_paired_device_whose_checkpoint_does_not_open_asks_for_the_log_and_uploads_nothing() {
        let mut engine = engine(EngineOptions {
            must_prove_key: true,
            ..EngineOptions::default()
        });
        connected(&mut engine, Vec::new(), 0);
        let (id, chunks) = checkpoint(2, 5, b"someone else's");
        engine.handle(offer(id, chunks.len(), 5));
        let out = engine.handle(frame(ServerMessage::CheckpointChunk(chunks[0].clone())));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::RejectCheckpoint { .. })));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Failed(SyncError::BadCheckpoint(_)))));
        assert!(!out.iter().any(|e| matches!(e, Effect::ReadOwnLog { .. })));
        assert!(!engine.key_proven());
    }

    #[test]
    fn a_checkpoint_is_uploaded_in_chunks_and_holds_up_to_date_until_stored() {
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        engine.handle(frame(ServerMessage::CaughtUp));
        assert!(engine.can_upload_checkpoint());
        let body = vec![9u8; crate::crypto::CHUNK_PLAINTEXT + 5];
        let out = engine.handle(Event::CheckpointSnapshot {
            covers: vec![("laptop".into(), 4)],
            body: body.clone(),
        });
        let frames = sent(&out);
        let ClientMessage::CheckpointBegin {
            checkpoint,
            chunks,
            covers: announced,
        } = &frames[0]
        else {
            panic!("the upload begins with CheckpointBegin: {frames:?}")
        };
        assert_eq!((*chunks, announced.clone()), (2, covers(4)));
        assert_eq!(frames.len(), 3);
        assert!(!engine.is_up_to_date());
        assert!(!engine.can_upload_checkpoint());
        let out = engine.handle(frame(ServerMessage::CheckpointStored {
            checkpoint: *checkpoint,
        }));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::CheckpointStored { chunks: 2, .. })));
        engine.handle(Event::BlobLists {
            uploads: Vec::new(),
            downloads: Vec::new(),
        });
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_refused_checkpoint_is_not_retried_in_the_session_and_the_session_goes_on() {
        use crate::protocol::{Refusal, RefusalCode};
        let mut engine = engine(EngineOptions::default());
        connected(&mut engine, Vec::new(), 0);
        engine.handle(frame(ServerMessage::CaughtUp));
        engine.handle(Event::BlobLists {
            uploads: Vec::new(),
            downloads: Vec::new(),
        });
        let snapshot = || Event::CheckpointSnapshot {
            covers: vec![("laptop".into(), 4)],
            body: vec![9u8; 100],
        };
        let out = engine.handle(snapshot());
        let Some(ClientMessage::CheckpointBegin { checkpoint, .. }) = sent(&out).first().cloned()
        else {
            panic!("the upload begins: {out:?}")
        };
        let refusal = Refusal {
            code: RefusalCode::CheckpointTooLarge,
            message: "over the limit".into(),
        };
        let out = engine.handle(frame(ServerMessage::CheckpointRefused {
            checkpoint,
            refusal: refusal.clone(),
        }));
        assert!(
            matches!(&out[..], [Effect::CheckpointRefused { checkpoint: c, refusal: r }] if *c == checkpoint && *r == refusal),
            "{out:?}"
        );
        assert_eq!(engine.phase(), Phase::Live);
        assert!(engine.is_up_to_date(), "up to date no longer waits for it");
        assert!(!engine.can_upload_checkpoint());
        // Another snapshot in this session sends nothing.
        assert!(sent(&engine.handle(snapshot())).is_empty());
        // Entries still flow both ways.
        let out = engine.handle(frame(ServerMessage::Entries {
            entries: vec![entry(1, "laptop", 1)],
        }));
        assert_eq!(applied(&out), [("laptop".to_string(), 1)]);
        let out = engine.handle(Event::LocalWrite { own_head: 1 });
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::ReadOwnLog { after: 0, .. })));
        // A refusal of no upload of this session is out of turn.
        let out = engine.handle(frame(ServerMessage::CheckpointRefused {
            checkpoint,
            refusal: refusal.clone(),
        }));
        assert!(matches!(out.last(), Some(Effect::Failed(_))), "{out:?}");
        // The next session may upload again.
        connected(&mut engine, Vec::new(), 1);
        engine.handle(frame(ServerMessage::CaughtUp));
        engine.handle(frame(ServerMessage::Stored { up_to: 1 }));
        assert!(engine.can_upload_checkpoint());
    }
}

mod blobs {
    use super::*;
    use crate::crypto::{blob_id, seal_blob, BlobFault, BLOB_CHUNK_PLAINTEXT};
    use crate::model::BlobHash;
    use crate::protocol::{BlobState, ChunkIndex, Refusal, RefusalCode};

    fn sent(effects: &[Effect]) -> Vec<ClientMessage> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(f) => Some(ClientMessage::decode(f).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn photo(len: usize) -> (Vec<u8>, BlobHash) {
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let hash = BlobHash::of(&content);
        (content, hash)
    }

    /// A live engine that has just been given these lists.
    fn live(
        uploads: Vec<(BlobHash, u64)>,
        downloads: Vec<(BlobHash, u64)>,
    ) -> (Engine, Vec<Effect>) {
        let mut engine = Engine::new(
            keys(1),
            DeviceId::new("phone").unwrap(),
            EngineOptions::default(),
        );
        connected(&mut engine, Vec::new(), 0);
        let out = engine.handle(frame(ServerMessage::CaughtUp));
        assert!(out.iter().any(|e| matches!(e, Effect::ListBlobs)));
        let out = engine.handle(Event::BlobLists { uploads, downloads });
        (engine, out)
    }

    #[test]
    fn an_upload_sends_only_the_chunks_the_relay_lacks_and_ends_when_it_is_complete() {
        let (content, hash) = photo(5 * BLOB_CHUNK_PLAINTEXT + 3);
        let (mut engine, out) = live(vec![(hash, content.len() as u64)], Vec::new());
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::ReadBlob { hash: h } if *h == hash)));
        assert!(!engine.is_up_to_date());
        let out = engine.handle(Event::BlobContent {
            hash,
            content: Some(content.clone()),
        });
        let blob = blob_id(&keys(1), hash.as_bytes());
        assert_eq!(sent(&out), vec![ClientMessage::BlobHave { blob }]);
        // The relay has chunks 0, 1 and 3 from an upload cut short.
        let state = BlobState::Partial {
            chunks: 6,
            present: vec![ChunkIndex(0), ChunkIndex(1), ChunkIndex(3)],
        };
        let out = engine.handle(frame(ServerMessage::BlobStatus { blob, state }));
        let expected = seal_blob(&keys(1), hash.as_bytes(), &content).unwrap();
        let puts: Vec<u32> = sent(&out)
            .into_iter()
            .map(|m| match m {
                ClientMessage::BlobPut { chunk, bytes } => {
                    assert_eq!(chunk, expected[chunk.index.0 as usize]);
                    assert_eq!(
                        bytes,
                        expected.iter().map(|c| c.sealed.len() as u64).sum::<u64>()
                    );
                    chunk.index.0
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(puts, vec![2, 4, 5]);
        let progress = engine.blob_progress().unwrap();
        assert_eq!((progress.done_chunks, progress.chunks), (3, 6));
        for (index, complete) in [(2, false), (4, false)] {
            let out = engine.handle(frame(ServerMessage::BlobChunkStored {
                blob,
                index: ChunkIndex(index),
                complete,
            }));
            assert!(!out.iter().any(|e| matches!(e, Effect::BlobUploaded { .. })));
        }
        let out = engine.handle(frame(ServerMessage::BlobChunkStored {
            blob,
            index: ChunkIndex(5),
            complete: true,
        }));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::BlobUploaded { hash: h } if *h == hash)));
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_blob_another_device_stored_is_not_sent_again() {
        let (content, hash) = photo(100);
        let (mut engine, _) = live(vec![(hash, 100)], Vec::new());
        engine.handle(Event::BlobContent {
            hash,
            content: Some(content),
        });
        let out = engine.handle(frame(ServerMessage::BlobStatus {
            blob: blob_id(&keys(1), hash.as_bytes()),
            state: BlobState::Complete { chunks: 1 },
        }));
        assert!(sent(&out).is_empty());
        assert!(out.iter().any(|e| matches!(e, Effect::BlobUploaded { .. })));
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_refused_upload_is_reported_and_the_next_blob_goes_on() {
        let (big, big_hash) = photo(300);
        let (small, small_hash) = photo(20);
        let (mut engine, _) = live(vec![(big_hash, 300), (small_hash, 20)], Vec::new());
        engine.handle(Event::BlobContent {
            hash: big_hash,
            content: Some(big),
        });
        let refusal = Refusal {
            code: RefusalCode::FileTooLarge,
            message: "over the limit".into(),
        };
        let out = engine.handle(frame(ServerMessage::BlobRefused {
            blob: blob_id(&keys(1), big_hash.as_bytes()),
            refusal: refusal.clone(),
        }));
        assert!(out.iter().any(|e| matches!(e, Effect::BlobRefused { hash, refusal: r } if *hash == big_hash && *r == refusal)));
        assert!(!out.iter().any(|e| matches!(e, Effect::Failed(_))));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::ReadBlob { hash } if *hash == small_hash)));
        assert_eq!(engine.phase(), Phase::Live);
        // Listed again in the same session, the refused blob is not tried again.
        engine.handle(Event::BlobContent {
            hash: small_hash,
            content: Some(small),
        });
        engine.handle(frame(ServerMessage::BlobStatus {
            blob: blob_id(&keys(1), small_hash.as_bytes()),
            state: BlobState::Complete { chunks: 1 },
        }));
        let out = engine.handle(Event::BlobsChanged);
        assert!(out.iter().any(|e| matches!(e, Effect::ListBlobs)));
        let out = engine.handle(Event::BlobLists {
            uploads: vec![(big_hash, 300)],
            downloads: Vec::new(),
        });
        assert!(out.is_empty(), "{out:?}");
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_download_is_opened_checked_and_handed_to_the_store() {
        let (content, hash) = photo(BLOB_CHUNK_PLAINTEXT + 7);
        let (mut engine, out) = live(Vec::new(), vec![(hash, content.len() as u64)]);
        let blob = blob_id(&keys(1), hash.as_bytes());
        assert_eq!(
            sent(&out),
            vec![ClientMessage::BlobGet {
                blob,
                from: ChunkIndex(0)
            }]
        );
        let chunks = seal_blob(&keys(1), hash.as_bytes(), &content).unwrap();
        engine.handle(frame(ServerMessage::BlobChunk(chunks[0].clone())));
        let progress = engine.blob_progress().unwrap();
        assert_eq!((progress.done_chunks, progress.chunks), (1, 2));
        let out = engine.handle(frame(ServerMessage::BlobChunk(chunks[1].clone())));
        assert!(out.iter().any(|e| matches!(e, Effect::StoreBlob { hash: h, content: c } if *h == hash && *c == content)));
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_tampered_chunk_is_rejected_and_the_blob_fetched_again() {
        let (content, hash) = photo(2 * BLOB_CHUNK_PLAINTEXT + 7);
        let (mut engine, _) = live(Vec::new(), vec![(hash, content.len() as u64)]);
        let blob = blob_id(&keys(1), hash.as_bytes());
        let chunks = seal_blob(&keys(1), hash.as_bytes(), &content).unwrap();
        let mut tampered = chunks[1].clone();
        tampered.sealed[30] ^= 1;
        engine.handle(frame(ServerMessage::BlobChunk(chunks[0].clone())));
        let out = engine.handle(frame(ServerMessage::BlobChunk(tampered.clone())));
        assert!(out.iter().any(|e| matches!(
            e,
            Effect::BlobRejected {
                fault: BlobFault::DoesNotOpen { index: 1, .. },
                ..
            }
        )));
        assert!(!out
            .iter()
            .any(|e| matches!(e, Effect::StoreBlob { .. } | Effect::Failed(_))));
        // The rest of that fetch goes by; then the blob is asked for again.
        let out = engine.handle(frame(ServerMessage::BlobChunk(chunks[2].clone())));
        assert_eq!(
            sent(&out),
            vec![ClientMessage::BlobGet {
                blob,
                from: ChunkIndex(0)
            }]
        );
        for chunk in &chunks[..2] {
            engine.handle(frame(ServerMessage::BlobChunk(chunk.clone())));
        }
        let out = engine.handle(frame(ServerMessage::BlobChunk(chunks[2].clone())));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::StoreBlob { content: c, .. } if *c == content)));
        assert!(engine.is_up_to_date());
    }

    #[test]
    fn a_blob_tampered_every_time_is_given_up_for_the_session() {
        let (content, hash) = photo(50);
        let (mut engine, _) = live(Vec::new(), vec![(hash, 50)]);
        let mut tampered = seal_blob(&keys(1), hash.as_bytes(), &content)
            .unwrap()
            .remove(0);
        tampered.sealed[30] ^= 1;
        let mut rejected = 0;
        for _ in 0..2 {
            let out = engine.handle(frame(ServerMessage::BlobChunk(tampered.clone())));
            rejected += out
                .iter()
                .filter(|e| matches!(e, Effect::BlobRejected { .. }))
                .count();
        }
        assert_eq!(rejected, 2);
        assert_eq!(engine.phase(), Phase::Live);
        assert!(engine.is_up_to_date());
    }
}

mod rekey {
    use super::*;
    use crate::crypto::{wrap_key, CheckpointReader, DeviceSecret};
    use crate::protocol::{Refusal, RefusalCode, RekeyDevice, WrapKey};

    fn sent(effects: &[Effect]) -> Vec<ClientMessage> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(f) => Some(ClientMessage::decode(f).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn registered_engine() -> (Engine, WrapKey) {
        let device = DeviceId::new("phone").unwrap();
        let own = DeviceSecret::generate(&mut SeededEntropy::new(70));
        let key = wrap_key(&keys(1), &device, &own);
        let engine = Engine::new(
            keys(1),
            device,
            EngineOptions {
                device_key: Some(crate::protocol::DeviceKey {
                    credential: own.credential(),
                    sealed_name: Vec::new(),
                }),
                wrap_key: Some(key),
                ..Default::default()
            },
        );
        (engine, key)
    }

    #[test]
    fn the_wrap_key_is_registered_once_caught_up() {
        let (mut engine, key) = registered_engine();
        let out = connected(&mut engine, Vec::new(), 0);
        assert!(!sent(&out)
            .iter()
            .any(|m| matches!(m, ClientMessage::SetWrapKey { .. })));
        let out = engine.handle(frame(ServerMessage::CaughtUp));
        assert_eq!(
            sent(&out),
            vec![ClientMessage::SetWrapKey { key }],
            "sent once caught up"
        );
    }

    #[test]
    fn a_rotation_seals_the_snapshot_under_the_new_keys_and_waits_for_the_relay() {
        let (mut engine, _) = registered_engine();
        connected(&mut engine, Vec::new(), 0);
        engine.handle(frame(ServerMessage::CaughtUp));
        engine.handle(Event::BlobLists {
            uploads: Vec::new(),
            downloads: Vec::new(),
        });
        let new = keys(2);
        let body = vec![7u8; crate::crypto::CHUNK_PLAINTEXT + 3];
        let out = engine.handle(Event::RotationSnapshot {
            to: new.clone(),
            covers: vec![("laptop".into(), 4), ("phone".into(), 9)],
            body: body.clone(),
        });
        let frames = sent(&out);
        let ClientMessage::BeginRotation {
            to,
            credential,
            checkpoint,
            chunks,
            covers,
        } = frames[0].clone()
        else {
            panic!("a rotation begins with BeginRotation: {frames:?}")
        };
        assert_eq!(to, new.account);
        assert_eq!(credential, new.credential);
        assert_eq!(chunks, 2);
        assert_eq!(frames.len(), 3);
        // The chunks open with the new keys, not the old ones.
        let mut reader = CheckpointReader::new(&new, checkpoint, chunks).unwrap();
        let mut old_reader = CheckpointReader::new(&keys(1), checkpoint, chunks).unwrap();
        for msg in &frames[1..] {
            let ClientMessage::CheckpointChunk(chunk) = msg else {
                panic!("chunks follow: {msg:?}")
            };
            assert!(old_reader.add(&keys(1), chunk).is_err());
            reader.add(&new, chunk).unwrap();
        }
        assert_eq!(reader.finish(&covers).unwrap().body, body);
        // Until the relay answers, the session is not up to date and no ordinary
        // checkpoint goes out.
        assert!(!engine.is_up_to_date());
        assert!(!engine.can_upload_checkpoint());
        let devices = vec![RekeyDevice {
            device: DeviceId::new("laptop").unwrap(),
            wrap_key: None,
        }];
        let out = engine.handle(frame(ServerMessage::RotationBegun {
            to,
            devices: devices.clone(),
        }));
        assert!(matches!(
            &out[..],
            [Effect::Devices(DeviceAnswer::RotationBegun { to: t, devices: d })] if *t == to && *d == devices
        ));
        assert!(engine.is_up_to_date());
        let out = engine.handle(frame(ServerMessage::RotationCommitted { to }));
        assert!(matches!(
            &out[..],
            [Effect::Devices(DeviceAnswer::RotationCommitted(t))] if *t == to
        ));
    }

    #[test]
    fn a_rotation_answer_for_another_account_is_out_of_turn() {
        let (mut engine, _) = registered_engine();
        connected(&mut engine, Vec::new(), 0);
        engine.handle(frame(ServerMessage::CaughtUp));
        let out = engine.handle(frame(ServerMessage::RotationBegun {
            to: keys(3).account,
            devices: Vec::new(),
        }));
        assert!(matches!(
            out.last(),
            Some(Effect::Failed(SyncError::OutOfTurn(_)))
        ));
    }

    #[test]
    fn a_move_instead_of_welcome_is_handed_over_and_ends_the_session() {
        let (mut engine, _) = registered_engine();
        engine.handle(Event::Connected {
            cursors: Vec::new(),
            own_head: 3,
            acked: 3,
        });
        let to = keys(2).account;
        let out = engine.handle(frame(ServerMessage::Moved {
            to,
            wrapped: vec![1, 2, 3],
        }));
        assert!(
            matches!(&out[0], Effect::Moved { to: t, wrapped } if *t == to && wrapped == &vec![1, 2, 3])
        );
        assert!(matches!(out.last(), Some(Effect::Failed(SyncError::Moved))));
        assert_eq!(engine.phase(), Phase::Failed);
        // Later in a session a move is out of turn.
        let (mut live, _) = registered_engine();
        connected(&mut live, Vec::new(), 0);
        let out = live.handle(frame(ServerMessage::Moved {
            to,
            wrapped: Vec::new(),
        }));
        assert!(matches!(
            out.last(),
            Some(Effect::Failed(SyncError::OutOfTurn(_)))
        ));
    }

    #[test]
    fn the_rekeyed_refusal_is_recognised() {
        let (mut engine, _) = registered_engine();
        engine.handle(Event::Connected {
            cursors: Vec::new(),
            own_head: 0,
            acked: 0,
        });
        let out = engine.handle(frame(ServerMessage::Refused(Refusal {
            code: RefusalCode::AccountRekeyed,
            message: "re-keyed".into(),
        })));
        let Some(Effect::Failed(error)) = out.last() else {
            panic!("{out:?}")
        };
        assert!(error.is_account_rekeyed());
        assert!(!error.is_device_removed());
    }
}
