//! Property tests: every decoder is total, and encoding round-trips.

use proptest::prelude::*;

use super::*;

fn device() -> impl Strategy<Value = DeviceId> {
    "[0-9a-z-]{1,64}".prop_map(|s| DeviceId::new(&s).unwrap())
}

fn entry() -> impl Strategy<Value = SealedEntry> {
    (
        device(),
        1u64..,
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(device, seq, sealed)| SealedEntry {
            device,
            seq,
            sealed,
        })
}

fn cursors() -> impl Strategy<Value = Vec<Cursor>> {
    proptest::collection::vec((device(), any::<u64>()), 0..8).prop_map(|cursors| {
        cursors
            .into_iter()
            .map(|(device, seq)| Cursor { device, seq })
            .collect()
    })
}

fn chunk() -> impl Strategy<Value = SealedChunk> {
    (
        any::<[u8; 16]>(),
        0..MAX_CHECKPOINT_CHUNKS,
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(id, index, sealed)| SealedChunk {
            checkpoint: CheckpointId(id),
            index: ChunkIndex(index),
            sealed,
        })
}

fn blob_chunk() -> impl Strategy<Value = BlobChunk> {
    (
        any::<[u8; 32]>(),
        1..=MAX_BLOB_CHUNKS,
        any::<prop::sample::Index>(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(id, chunks, index, sealed)| BlobChunk {
            blob: BlobId(id),
            index: ChunkIndex(index.index(chunks as usize) as u32),
            chunks,
            sealed,
        })
}

fn blob_state() -> impl Strategy<Value = BlobState> {
    prop_oneof![
        Just(BlobState::Absent),
        (1..=MAX_BLOB_CHUNKS).prop_map(|chunks| BlobState::Complete { chunks }),
        (1u32..64, proptest::collection::btree_set(0u32..64, 0..8)).prop_map(
            |(chunks, present)| BlobState::Partial {
                chunks,
                present: present
                    .into_iter()
                    .filter(|&i| i < chunks)
                    .map(ChunkIndex)
                    .collect(),
            }
        ),
    ]
}

fn blob_refusal_code() -> impl Strategy<Value = RefusalCode> {
    prop_oneof![
        Just(RefusalCode::QuotaExceeded),
        Just(RefusalCode::FileTooLarge),
        Just(RefusalCode::BlobNotFound),
        Just(RefusalCode::BlobMismatch),
    ]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (
            any::<[u8; 16]>(),
            any::<[u8; 32]>(),
            device(),
            any::<bool>(),
            proptest::option::of("[a-z0-9]{0,40}"),
            proptest::collection::vec((device(), any::<u64>()), 0..8),
            proptest::option::of((
                any::<[u8; 32]>(),
                proptest::collection::vec(any::<u8>(), 0..=MAX_SEALED_NAME)
            )),
        )
            .prop_map(|(a, c, device, create, invite, cursors, key)| {
                ClientMessage::Hello {
                    account: AccountId(a),
                    credential: Credential(c),
                    device,
                    create,
                    invite,
                    cursors: cursors
                        .into_iter()
                        .map(|(device, seq)| Cursor { device, seq })
                        .collect(),
                    device_key: key.map(|(credential, sealed_name)| DeviceKey {
                        credential: Credential(credential),
                        sealed_name,
                    }),
                }
            }),
        proptest::collection::vec(entry(), 0..6)
            .prop_map(|entries| ClientMessage::Push { entries }),
        proptest::collection::vec(entry(), 0..6)
            .prop_map(|entries| ClientMessage::Repair { entries }),
        (any::<[u8; 16]>(), 0..=MAX_CHECKPOINT_CHUNKS, cursors()).prop_map(
            |(id, chunks, covers)| ClientMessage::CheckpointBegin {
                checkpoint: CheckpointId(id),
                chunks,
                covers,
            }
        ),
        chunk().prop_map(ClientMessage::CheckpointChunk),
        proptest::option::of(any::<[u8; 16]>()).prop_map(|id| ClientMessage::TakeCheckpoint {
            checkpoint: id.map(CheckpointId)
        }),
        cursors().prop_map(|cursors| ClientMessage::ListDevices { cursors }),
        (
            device(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_SEALED_NAME)
        )
            .prop_map(|(device, sealed_name)| ClientMessage::RenameDevice {
                device,
                sealed_name
            }),
        device().prop_map(|device| ClientMessage::RemoveDevice { device }),
        any::<[u8; 32]>().prop_map(|id| ClientMessage::BlobHave { blob: BlobId(id) }),
        (blob_chunk(), 0u64..1 << 30).prop_map(|(chunk, extra)| ClientMessage::BlobPut {
            bytes: chunk.sealed.len() as u64 + extra,
            chunk
        }),
        (any::<[u8; 32]>(), 0..MAX_BLOB_CHUNKS).prop_map(|(id, from)| ClientMessage::BlobGet {
            blob: BlobId(id),
            from: ChunkIndex(from)
        }),
        wrap_key().prop_map(|key| ClientMessage::SetWrapKey { key }),
        (
            any::<[u8; 16]>(),
            any::<[u8; 32]>(),
            any::<[u8; 16]>(),
            0..=MAX_CHECKPOINT_CHUNKS,
            cursors()
        )
            .prop_map(|(to, credential, id, chunks, covers)| {
                ClientMessage::BeginRotation {
                    to: AccountId(to),
                    credential: Credential(credential),
                    checkpoint: CheckpointId(id),
                    chunks,
                    covers,
                }
            }),
        (
            any::<[u8; 16]>(),
            proptest::collection::vec(
                (
                    device(),
                    proptest::collection::vec(any::<u8>(), 0..=MAX_WRAPPED)
                ),
                0..5
            )
        )
            .prop_map(|(to, wraps)| ClientMessage::CommitRotation {
                to: AccountId(to),
                wraps: wraps
                    .into_iter()
                    .map(|(device, sealed)| WrappedSecret { device, sealed })
                    .collect(),
            }),
    ]
}

fn wrap_key() -> impl Strategy<Value = WrapKey> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(public, mac)| WrapKey { public, mac })
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (
            any::<u64>(),
            proptest::option::of(any::<[u8; 32]>()),
            proptest::collection::vec(any::<u64>(), 0..6)
        )
            .prop_map(|(own_head, own_hash, damaged)| ServerMessage::Welcome {
                own_head,
                own_hash,
                damaged
            }),
        proptest::collection::vec(entry(), 0..6)
            .prop_map(|entries| ServerMessage::Entries { entries }),
        Just(ServerMessage::CaughtUp),
        any::<u64>().prop_map(|up_to| ServerMessage::Stored { up_to }),
        ".{0,100}".prop_map(|m| ServerMessage::refused(RefusalCode::RateLimited, m)),
        (
            any::<[u8; 16]>(),
            0..=MAX_CHECKPOINT_CHUNKS,
            cursors(),
            any::<bool>()
        )
            .prop_map(
                |(id, chunks, covers, required)| ServerMessage::CheckpointOffer {
                    checkpoint: CheckpointId(id),
                    chunks,
                    covers,
                    required,
                }
            ),
        chunk().prop_map(ServerMessage::CheckpointChunk),
        proptest::collection::vec(
            (
                device(),
                proptest::collection::vec(any::<u8>(), 0..=MAX_SEALED_NAME),
                proptest::option::of(0..u64::MAX),
                any::<u64>()
            ),
            0..5
        )
        .prop_map(|devices| ServerMessage::Devices {
            devices: devices
                .into_iter()
                .map(|(device, sealed_name, last_seen, waiting)| DeviceInfo {
                    device,
                    sealed_name,
                    last_seen,
                    waiting,
                })
                .collect()
        }),
        device().prop_map(|device| ServerMessage::DeviceRenamed { device }),
        device().prop_map(|device| ServerMessage::DeviceRemoved { device }),
        any::<[u8; 16]>().prop_map(|id| ServerMessage::CheckpointStored {
            checkpoint: CheckpointId(id)
        }),
        (any::<[u8; 32]>(), blob_state()).prop_map(|(id, state)| ServerMessage::BlobStatus {
            blob: BlobId(id),
            state
        }),
        (any::<[u8; 32]>(), 0..MAX_BLOB_CHUNKS, any::<bool>()).prop_map(|(id, index, complete)| {
            ServerMessage::BlobChunkStored {
                blob: BlobId(id),
                index: ChunkIndex(index),
                complete,
            }
        }),
        blob_chunk().prop_map(ServerMessage::BlobChunk),
        (any::<[u8; 32]>(), blob_refusal_code(), ".{0,100}").prop_map(|(id, code, message)| {
            ServerMessage::BlobRefused {
                blob: BlobId(id),
                refusal: Refusal { code, message },
            }
        }),
        (
            any::<[u8; 16]>(),
            proptest::collection::vec((device(), proptest::option::of(wrap_key())), 0..5)
        )
            .prop_map(|(to, devices)| ServerMessage::RotationBegun {
                to: AccountId(to),
                devices: devices
                    .into_iter()
                    .map(|(device, wrap_key)| RekeyDevice { device, wrap_key })
                    .collect(),
            }),
        any::<[u8; 16]>().prop_map(|to| ServerMessage::RotationCommitted { to: AccountId(to) }),
        (
            any::<[u8; 16]>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_WRAPPED)
        )
            .prop_map(|(to, wrapped)| ServerMessage::Moved {
                to: AccountId(to),
                wrapped
            }),
        (
            any::<[u8; 16]>(),
            prop_oneof![
                Just(RefusalCode::CheckpointTooLarge),
                Just(RefusalCode::RateLimited)
            ],
            ".{0,100}"
        )
            .prop_map(|(id, code, message)| ServerMessage::CheckpointRefused {
                checkpoint: CheckpointId(id),
                refusal: Refusal { code, message },
            }),
    ]
}

proptest! {
    #[test]
    fn any_bytes_decode_to_a_message_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }

    #[test]
    fn any_bytes_after_a_valid_header_decode_without_panic(tag in 0u8..30, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut frame = vec![VERSION, tag];
        frame.extend_from_slice(&body);
        let _ = ClientMessage::decode(&frame);
        let _ = ServerMessage::decode(&frame);
    }

    #[test]
    fn client_messages_round_trip(msg in client_message()) {
        prop_assert_eq!(ClientMessage::decode(&msg.encode()), Ok(msg));
    }

    #[test]
    fn server_messages_round_trip(msg in server_message()) {
        prop_assert_eq!(ServerMessage::decode(&msg.encode()), Ok(msg));
    }

    #[test]
    fn every_truncation_of_a_valid_frame_is_an_error(msg in client_message(), cut in any::<prop::sample::Index>()) {
        let frame = msg.encode();
        let cut = cut.index(frame.len());
        prop_assert!(ClientMessage::decode(&frame[..cut]).is_err());
    }

    #[test]
    fn every_truncation_of_a_server_frame_is_an_error(msg in server_message(), cut in any::<prop::sample::Index>()) {
        let frame = msg.encode();
        let cut = cut.index(frame.len());
        prop_assert!(ServerMessage::decode(&frame[..cut]).is_err());
    }
}

#[test]
fn blob_frames_check_their_counts_and_sizes_before_use() {
    let chunk = BlobChunk {
        blob: BlobId([1; 32]),
        index: ChunkIndex(0),
        chunks: 1,
        sealed: vec![9; 100],
    };
    // A full chunk fits one frame.
    let full = ClientMessage::BlobPut {
        bytes: MAX_ENTRY as u64,
        chunk: BlobChunk {
            sealed: vec![0; MAX_ENTRY],
            ..chunk.clone()
        },
    };
    assert!(full.encode().len() <= MAX_FRAME);
    assert!(ClientMessage::decode(&full.encode()).is_ok());
    // An index at or past the count, a count of zero or over the limit.
    for (index, chunks) in [(1, 1), (0, 0), (0, MAX_BLOB_CHUNKS + 1)] {
        let bad = ClientMessage::BlobPut {
            bytes: 100,
            chunk: BlobChunk {
                index: ChunkIndex(index),
                chunks,
                ..chunk.clone()
            },
        };
        assert!(
            ClientMessage::decode(&bad.encode()).is_err(),
            "{index}/{chunks}"
        );
    }
    // A chunk larger than the blob it claims to be part of.
    let bigger = ClientMessage::BlobPut {
        bytes: 99,
        chunk: chunk.clone(),
    };
    assert_eq!(
        ClientMessage::decode(&bigger.encode()),
        Err(ProtocolError::Invalid("blob size"))
    );
    // A sealed chunk over the entry limit.
    let over = ServerMessage::BlobChunk(BlobChunk {
        sealed: vec![0; MAX_ENTRY + 1],
        ..chunk
    });
    assert!(matches!(
        ServerMessage::decode(&over.encode()),
        Err(ProtocolError::OverLimit { .. })
    ));
    // A status listing more present chunks than the blob has.
    let mut frame = vec![VERSION, 20];
    frame.extend_from_slice(&[7; 32]);
    frame.extend_from_slice(&[1, 2, 3, 0, 1, 0]);
    assert!(matches!(
        ServerMessage::decode(&frame),
        Err(ProtocolError::OverLimit { .. })
    ));
    // A present index past the count, or one listed twice.
    let mut frame = vec![VERSION, 20];
    frame.extend_from_slice(&[7; 32]);
    frame.extend_from_slice(&[1, 2, 1, 5]);
    assert!(ServerMessage::decode(&frame).is_err());
    let mut frame = vec![VERSION, 20];
    frame.extend_from_slice(&[7; 32]);
    frame.extend_from_slice(&[1, 3, 2, 1, 1]);
    assert_eq!(
        ServerMessage::decode(&frame),
        Err(ProtocolError::Invalid("present chunks"))
    );
    // Refusal codes outside the known ones.
    let mut frame = ServerMessage::BlobRefused {
        blob: BlobId([0; 32]),
        refusal: Refusal {
            code: RefusalCode::QuotaExceeded,
            message: "over".into(),
        },
    }
    .encode();
    frame[34] = 200;
    assert!(ServerMessage::decode(&frame).is_err());
}

#[test]
fn a_huge_length_field_is_refused_before_allocating() {
    // An Entries frame claiming 2^62 entries in a few bytes.
    let mut frame = vec![VERSION, 2];
    frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    assert!(matches!(
        ServerMessage::decode(&frame),
        Err(ProtocolError::OverLimit { .. })
    ));
    // A sealed entry claiming a megabyte it does not carry.
    let mut frame = vec![VERSION, 2, 1, 1, b'a', 1, 0x80, 0x80, 0x40];
    frame.push(0);
    assert_eq!(ServerMessage::decode(&frame), Err(ProtocolError::Truncated));
}

#[test]
fn another_protocol_version_is_named_in_the_error() {
    let mut frame = ServerMessage::CaughtUp.encode();
    frame[0] = 9;
    assert_eq!(
        ServerMessage::decode(&frame),
        Err(ProtocolError::UnsupportedVersion(9))
    );
}

proptest! {
    #[test]
    fn frame_runs_keep_every_entry_in_order_and_each_run_within_the_frame(
        sizes in proptest::collection::vec(0usize..300_000, 0..80)
    ) {
        let entries: Vec<SealedEntry> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| SealedEntry {
                device: DeviceId::new("phone").unwrap(),
                seq: i as u64 + 1,
                sealed: vec![0; n],
            })
            .collect();
        let runs = frame_runs(entries.clone(), 1024 * 1024);
        prop_assert_eq!(runs.concat(), entries);
        for run in &runs {
            let frame = ServerMessage::Entries { entries: run.clone() }.encode();
            prop_assert!(frame.len() <= 1024 * 1024 || run.len() == 1);
            prop_assert!(!run.is_empty());
        }
    }
}

#[test]
fn a_checkpoint_id_reads_back_from_its_hex_and_nothing_else_does() {
    let id = CheckpointId([0xab; 16]);
    assert_eq!(id.to_hex().parse::<CheckpointId>(), Ok(id));
    assert!("ab".parse::<CheckpointId>().is_err());
    assert!("zz".repeat(16).parse::<CheckpointId>().is_err());
    let vector = vec![Cursor {
        device: DeviceId::new("phone").unwrap(),
        seq: 9,
    }];
    assert_eq!(
        Cursor::decode_vector(&Cursor::encode_vector(&vector)),
        Ok(vector)
    );
    assert!(Cursor::decode_vector(&[200]).is_err());
}
