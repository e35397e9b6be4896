//! The core's decisions, driven by hand-made inputs (no socket, no store).

use std::sync::Arc;

use aftercall_shared::protocol::{ChunkIndex, Credential};

use super::*;

fn limits() -> CoreLimits {
    CoreLimits {
        checkpoint: CheckpointLimits {
            max_bytes: 1000,
            interval_secs: 60,
        },
        connections_per_account: 3,
        entries_per_second: 50,
        max_message_bytes: 4096,
    }
}

fn id(name: &str) -> DeviceId {
    DeviceId::new(name).unwrap()
}

const ACCOUNT: AccountId = AccountId([1; 16]);
const OTHER_ACCOUNT: AccountId = AccountId([2; 16]);

fn entry(device: &str, seq: u64) -> SealedEntry {
    SealedEntry {
        device: id(device),
        seq,
        sealed: vec![seq as u8; 8],
    }
}

fn cursor(device: &str, seq: u64) -> Cursor {
    Cursor {
        device: id(device),
        seq,
    }
}

fn key(byte: u8) -> DeviceKey {
    DeviceKey {
        credential: Credential([byte; 32]),
        sealed_name: vec![byte; 4],
    }
}

/// A hello from device `a`; `device_key` makes it of the current form.
fn hello(cursors: Vec<Cursor>, device_key: Option<DeviceKey>) -> ClientMessage {
    ClientMessage::Hello {
        account: ACCOUNT,
        credential: Credential([9; 32]),
        device: id("a"),
        create: false,
        invite: None,
        cursors,
        device_key,
    }
}

fn push(entries: Vec<SealedEntry>) -> ClientMessage {
    ClientMessage::Push { entries }
}

fn chunk(checkpoint: CheckpointId, index: u32) -> ClientMessage {
    ClientMessage::CheckpointChunk(SealedChunk {
        checkpoint,
        index: ChunkIndex(index),
        sealed: vec![0; 16],
    })
}

/// A core past its hello, welcomed and caught up with nothing to send.
fn live_core(cursors: Vec<Cursor>, device_key: Option<DeviceKey>) -> Core {
    let mut core = Core::new(limits());
    core.hello(hello(cursors, device_key)).unwrap();
    core.admitted(&[]);
    assert_eq!(core.caught_up(), ServerMessage::CaughtUp);
    assert_eq!(core.phase(), &Phase::Live);
    core
}

fn refusal_of(end: End) -> (RefusalCode, String) {
    match end {
        End::Refused(code, message) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn refused_request(result: Result<Request, End>) -> RefusalCode {
    match result {
        Err(end) => refusal_of(end).0,
        Ok(request) => panic!("expected a refusal, got {request:?}"),
    }
}

/// The frames among `effects`, and the refusal that ends them if any.
fn split(effects: Vec<Effect>) -> (Vec<ServerMessage>, Option<RefusalCode>) {
    let mut frames = Vec::new();
    let mut end = None;
    for effect in effects {
        match effect {
            Effect::Send(msg) => frames.push(msg),
            Effect::End(e) => end = Some(refusal_of(e).0),
            _ => {}
        }
    }
    (frames, end)
}

#[test]
fn a_message_before_hello_is_refused() {
    let mut core = Core::new(limits());
    let end = core.hello(push(vec![entry("a", 1)])).unwrap_err();
    assert_eq!(
        refusal_of(end),
        (
            RefusalCode::BadMessage,
            "a session starts with hello".to_string()
        )
    );
    assert_eq!(core.phase(), &Phase::Ended);

    let mut core = Core::new(limits());
    assert_eq!(
        refused_request(core.message(push(vec![entry("a", 1)]))),
        RefusalCode::BadMessage
    );
}

#[test]
fn a_second_hello_is_refused() {
    let mut core = live_core(Vec::new(), None);
    let end = core.message(hello(Vec::new(), None)).unwrap_err();
    assert_eq!(
        refusal_of(end),
        (
            RefusalCode::BadMessage,
            "hello was already said".to_string()
        )
    );
    assert_eq!(core.phase(), &Phase::Ended);

    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), None)).unwrap();
    assert_eq!(
        refusal_of(core.hello(hello(Vec::new(), None)).unwrap_err()).0,
        RefusalCode::BadMessage
    );
}

#[test]
fn a_push_is_refused_outside_its_phases_and_for_another_log() {
    // While the relay lets the device in or sends the catch-up, nothing is read.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), None)).unwrap();
    assert_eq!(core.phase(), &Phase::Authenticating);
    assert_eq!(
        refused_request(core.message(push(vec![entry("a", 1)]))),
        RefusalCode::BadMessage
    );

    let mut core = live_core(Vec::new(), None);
    assert_eq!(
        refused_request(core.message(push(vec![entry("b", 1)]))),
        RefusalCode::BadMessage
    );
    let mut core = live_core(Vec::new(), None);
    assert!(matches!(
        core.message(push(Vec::new())),
        Ok(Request::Nothing)
    ));
    match core.message(push(vec![entry("a", 1), entry("a", 2)])) {
        Ok(Request::Push(entries)) => assert_eq!(entries.len(), 2),
        other => panic!("expected a push, got {other:?}"),
    }
}

#[test]
fn a_push_is_acknowledged_and_a_gap_ends_the_session_after_the_acknowledgement() {
    let mut core = live_core(Vec::new(), None);
    let (frames, end) = split(core.appended(4, None));
    assert_eq!(frames, vec![ServerMessage::Stored { up_to: 4 }]);
    assert_eq!(end, None);
    assert_eq!(core.phase(), &Phase::Live);

    let gap = Some(AppendRefusal::Gap { seq: 7, head: 4 });
    let (frames, end) = split(core.appended(4, gap));
    assert_eq!(frames, vec![ServerMessage::Stored { up_to: 4 }]);
    assert_eq!(end, Some(RefusalCode::Gap));
    assert_eq!(core.phase(), &Phase::Ended);

    let mut core = live_core(Vec::new(), None);
    assert_eq!(refusal_of(core.rate_limited()).0, RefusalCode::RateLimited);
}

#[test]
fn taking_a_checkpoint_never_offered_is_refused() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let take = ClientMessage::TakeCheckpoint {
        checkpoint: Some(CheckpointId([3; 16])),
    };
    assert_eq!(refused_request(core.message(take)), RefusalCode::BadMessage);
}

#[test]
fn a_checkpoint_chunk_of_no_upload_is_refused() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let id = CheckpointId([3; 16]);
    match core.message(chunk(id, 0)) {
        Ok(Request::PutChunk(c)) => assert_eq!(c.checkpoint, id),
        other => panic!("expected the chunk stored, got {other:?}"),
    }
    let (frames, end) = split(core.chunk_stored(id, ChunkStored::Unknown));
    assert!(frames.is_empty());
    assert_eq!(end, Some(RefusalCode::BadMessage));
}

#[test]
fn a_checkpoint_upload_is_stored_then_pruned() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let id = CheckpointId([3; 16]);
    let begin = ClientMessage::CheckpointBegin {
        checkpoint: id,
        chunks: 2,
        covers: vec![cursor("a", 4)],
    };
    assert!(matches!(
        core.message(begin),
        Ok(Request::BeginCheckpoint(StoredCheckpoint { chunks: 2, .. }))
    ));
    assert!(core.checkpoint_begun(id, CheckpointBegun::Begun).is_empty());
    assert!(core.chunk_stored(id, ChunkStored::Waiting).is_empty());
    let effects = core.chunk_stored(id, ChunkStored::Complete);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(ServerMessage::CheckpointStored { checkpoint }), Effect::Prune] if *checkpoint == id
    ));
    // A late chunk of a checkpoint stored already adds nothing.
    assert!(core.chunk_stored(id, ChunkStored::Complete).is_empty());

    let empty = ClientMessage::CheckpointBegin {
        checkpoint: id,
        chunks: 0,
        covers: Vec::new(),
    };
    assert_eq!(
        refused_request(core.message(empty)),
        RefusalCode::BadMessage
    );
}

#[test]
fn a_refused_checkpoints_later_chunks_are_dropped_and_the_session_goes_on() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let id = CheckpointId([3; 16]);
    let effects = core.checkpoint_begun(id, CheckpointBegun::TooLarge { least: 5000 });
    assert!(matches!(
        effects.as_slice(),
        [
            Effect::Count(Metric::Refused(RefusalCode::CheckpointTooLarge)),
            Effect::Send(ServerMessage::CheckpointRefused { checkpoint, refusal })
        ] if *checkpoint == id && refusal.code == RefusalCode::CheckpointTooLarge
            && refusal.message.contains("5000")
    ));
    assert_eq!(core.phase(), &Phase::Live);
    assert!(matches!(core.message(chunk(id, 1)), Ok(Request::Nothing)));
    // A chunk of another checkpoint still goes to the store.
    let other = CheckpointId([4; 16]);
    assert!(matches!(
        core.message(chunk(other, 0)),
        Ok(Request::PutChunk(_))
    ));

    // Too soon: refused the same way, with the interval.
    let (frames, end) = split(core.checkpoint_begun(other, CheckpointBegun::TooSoon { wait: 12 }));
    assert_eq!(end, None);
    assert!(matches!(
        frames.as_slice(),
        [ServerMessage::CheckpointRefused { refusal, .. }]
            if refusal.code == RefusalCode::RateLimited && refusal.message.contains("60 seconds")
    ));

    // A chunk over the limit mid-upload refuses the upload and drops the rest.
    let third = CheckpointId([5; 16]);
    core.checkpoint_begun(third, CheckpointBegun::Begun);
    let (frames, end) = split(core.chunk_stored(third, ChunkStored::TooLarge { bytes: 2000 }));
    assert_eq!(end, None);
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        core.message(chunk(third, 2)),
        Ok(Request::Nothing)
    ));
}

#[test]
fn an_older_hellos_refused_checkpoint_ends_its_session_in_a_code_it_reads() {
    let mut core = live_core(Vec::new(), None);
    let id = CheckpointId([3; 16]);
    let mut effects = core.checkpoint_begun(id, CheckpointBegun::TooLarge { least: 5000 });
    let Some(Effect::End(end)) = effects.pop() else {
        panic!("the session ends");
    };
    assert!(effects.is_empty());
    let (code, _) = core.refusal(end).unwrap();
    assert_eq!(code, RefusalCode::TooLarge);
}

#[test]
fn a_rotation_chunk_goes_to_the_rotation() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let id = CheckpointId([3; 16]);
    let begin = ClientMessage::BeginRotation {
        to: OTHER_ACCOUNT,
        credential: Credential([8; 32]),
        checkpoint: id,
        chunks: 2,
        covers: Vec::new(),
    };
    match core.message(begin) {
        Ok(Request::BeginRotation {
            to,
            verifier,
            checkpoint,
        }) => {
            assert_eq!(to, OTHER_ACCOUNT);
            assert_eq!(verifier, Credential([8; 32]).verifier());
            assert_eq!(checkpoint.id, id);
        }
        other => panic!("expected the re-key begun, got {other:?}"),
    }
    core.rotation_begun(OTHER_ACCOUNT, id, RotationBegin::Begun)
        .unwrap();
    match core.message(chunk(id, 0)) {
        Ok(Request::PutRotationChunk { to, chunk }) => {
            assert_eq!(to, OTHER_ACCOUNT);
            assert_eq!(chunk.index, ChunkIndex(0));
        }
        other => panic!("expected a rotation chunk, got {other:?}"),
    }
    // Another checkpoint's chunk is the account's own.
    assert!(matches!(
        core.message(chunk(CheckpointId([4; 16]), 0)),
        Ok(Request::PutChunk(_))
    ));
    assert!(!core.rotation_chunk_stored(ChunkStored::Waiting).unwrap());
    assert!(core.rotation_chunk_stored(ChunkStored::Complete).unwrap());
    let (frames, end) = split(core.rotation_devices(Vec::new()));
    assert_eq!(end, None);
    assert_eq!(
        frames,
        vec![ServerMessage::RotationBegun {
            to: OTHER_ACCOUNT,
            devices: Vec::new()
        }]
    );
    // Complete: its chunks are no longer the rotation's.
    assert!(matches!(
        core.message(chunk(id, 1)),
        Ok(Request::PutChunk(_))
    ));
}

#[test]
fn a_rotation_is_refused_to_its_own_account_and_over_the_limit() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let begin = ClientMessage::BeginRotation {
        to: ACCOUNT,
        credential: Credential([8; 32]),
        checkpoint: CheckpointId([3; 16]),
        chunks: 1,
        covers: Vec::new(),
    };
    assert_eq!(
        refused_request(core.message(begin)),
        RefusalCode::BadMessage
    );

    let mut core = live_core(Vec::new(), Some(key(5)));
    let end = core
        .rotation_chunk_stored(ChunkStored::TooLarge { bytes: 3000 })
        .unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::TooLarge);

    let mut core = live_core(Vec::new(), Some(key(5)));
    let wrap = WrappedSecret {
        device: id("b"),
        sealed: vec![1; 8],
    };
    let twice = ClientMessage::CommitRotation {
        to: OTHER_ACCOUNT,
        wraps: vec![wrap.clone(), wrap],
    };
    assert_eq!(
        refused_request(core.message(twice)),
        RefusalCode::BadMessage
    );
}

#[test]
fn a_committed_rotation_tells_the_account_and_ends_the_session() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let effects = core.rotation_committed(OTHER_ACCOUNT, RotationCommit::Committed);
    assert!(matches!(
        effects.as_slice(),
        [
            Effect::Count(Metric::RotationsCommitted),
            Effect::Send(ServerMessage::RotationCommitted { to }),
            Effect::HubMoved,
            Effect::End(End::Closed)
        ] if *to == OTHER_ACCOUNT
    ));
    let mut core = live_core(Vec::new(), Some(key(5)));
    let (_, end) = split(core.rotation_committed(OTHER_ACCOUNT, RotationCommit::Incomplete));
    assert_eq!(end, Some(RefusalCode::BadMessage));
}

#[test]
fn a_live_entry_after_a_gap_asks_the_store_for_the_missing_ones() {
    let mut core = live_core(vec![cursor("b", 2)], None);
    let batch = vec![entry("b", 3), entry("b", 6), entry("c", 1), entry("a", 9)];
    let effects = core.live(Some(Live::Entries(Arc::new(batch))));
    let [Effect::Entries(run), Effect::CatchUp { device, head }] = effects.as_slice() else {
        panic!("expected one frame and one catch-up, got {effects:?}");
    };
    // The device's own entry is never sent back to it.
    assert_eq!(run, &vec![entry("b", 3), entry("c", 1)]);
    assert_eq!((device, *head), (&id("b"), 6));

    // The driver reads from after what was sent, page by page, until the head.
    assert_eq!(core.page_from(&id("b"), 6), Some(3));
    let runs = core
        .page_read(&id("b"), vec![entry("b", 4), entry("b", 5)])
        .unwrap();
    assert_eq!(runs, vec![vec![entry("b", 4), entry("b", 5)]]);
    assert_eq!(core.page_from(&id("b"), 6), Some(5));
    // An empty page (a damaged entry) stops the reading.
    assert_eq!(core.page_read(&id("b"), Vec::new()), None);
    core.page_read(&id("b"), vec![entry("b", 6)]).unwrap();
    assert_eq!(core.page_from(&id("b"), 6), None);

    // An entry sent already is not sent again.
    let effects = core.live(Some(Live::Entries(Arc::new(vec![entry("b", 5)]))));
    assert!(effects.is_empty());
}

#[test]
fn a_head_signalled_by_another_node_asks_the_store_for_what_is_missing() {
    let mut core = live_core(vec![cursor("b", 2)], None);
    let effects = core.live(Some(Live::Head {
        device: id("b"),
        head: 8,
    }));
    assert!(matches!(
        effects.as_slice(),
        [Effect::CatchUp { device, head: 8 }] if *device == id("b")
    ));
    // The device's own head is not its business.
    let own = Live::Head {
        device: id("a"),
        head: 8,
    };
    assert!(core.live(Some(own)).is_empty());
}

#[test]
fn removal_a_move_or_falling_behind_ends_a_live_session() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    assert!(core.live(Some(Live::Removed(id("b")))).is_empty());
    let (_, end) = split(core.live(Some(Live::Removed(id("a")))));
    assert_eq!(end, Some(RefusalCode::DeviceRemoved));

    let mut core = live_core(Vec::new(), Some(key(5)));
    assert!(matches!(
        core.live(Some(Live::Moved)).as_slice(),
        [Effect::End(End::Closed)]
    ));
    let mut core = live_core(Vec::new(), Some(key(5)));
    assert!(matches!(
        core.live(None).as_slice(),
        [Effect::End(End::Closed)]
    ));
    assert_eq!(core.phase(), &Phase::Ended);
}

#[test]
fn an_older_hellos_refusal_codes_are_mapped_to_codes_it_knows() {
    let mut older = Core::new(limits());
    older.hello(hello(Vec::new(), None)).unwrap();
    let mut current = Core::new(limits());
    current.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    for (code, mapped) in [
        (RefusalCode::DeviceRemoved, RefusalCode::Unauthorized),
        (RefusalCode::CheckpointTooLarge, RefusalCode::TooLarge),
        (RefusalCode::UnknownDevice, RefusalCode::BadMessage),
        (RefusalCode::AccountRekeyed, RefusalCode::BadMessage),
        (RefusalCode::Gap, RefusalCode::Gap),
        (
            RefusalCode::UnsupportedVersion,
            RefusalCode::UnsupportedVersion,
        ),
    ] {
        let end = || End::Refused(code, "why".to_string());
        assert_eq!(older.refusal(end()), Some((mapped, "why".to_string())));
        assert_eq!(current.refusal(end()), Some((code, "why".to_string())));
    }
    assert_eq!(older.refusal(End::Closed), None);
    let failed = older.refusal(End::Failed(RelayError::Task("disk".into())));
    assert_eq!(failed.map(|(c, _)| c), Some(RefusalCode::Unavailable));
}

#[test]
fn frames_that_are_no_message_are_refused_by_kind() {
    let mut core = Core::new(limits());
    let (code, message) = refusal_of(core.frame_error(FrameError::TooLarge { bytes: 5000 }));
    assert_eq!(code, RefusalCode::TooLarge);
    assert!(message.contains("5000") && message.contains("4096"));
    let cases = [
        (FrameError::OverSocketLimit, RefusalCode::TooLarge),
        (FrameError::Text, RefusalCode::BadMessage),
        (
            FrameError::Decode(ProtocolError::UnsupportedVersion(9)),
            RefusalCode::UnsupportedVersion,
        ),
        (
            FrameError::Decode(ProtocolError::UnknownTag(200)),
            RefusalCode::BadMessage,
        ),
    ];
    for (error, code) in cases {
        let mut core = Core::new(limits());
        assert_eq!(refusal_of(core.frame_error(error)).0, code);
    }
}

#[test]
fn the_timeout_names_what_was_awaited() {
    let mut core = Core::new(limits());
    assert!(refusal_of(core.timed_out()).1.contains("no hello"));

    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    core.admitted(&[]);
    let checkpoint = StoredCheckpoint {
        id: CheckpointId([3; 16]),
        chunks: 1,
        covers: vec![cursor("b", 4)],
    };
    core.offer(Some(checkpoint), false).unwrap();
    assert!(refusal_of(core.timed_out()).1.contains("checkpoint offer"));
}

fn offering(cursors: Vec<Cursor>, required: bool) -> (Core, StoredCheckpoint) {
    let mut core = Core::new(limits());
    core.hello(hello(cursors, Some(key(5)))).unwrap();
    core.admitted(&[(id("a"), 2), (id("b"), 9)]);
    let checkpoint = StoredCheckpoint {
        id: CheckpointId([3; 16]),
        chunks: 2,
        covers: vec![cursor("a", 2), cursor("b", 6)],
    };
    let offer = core.offer(Some(checkpoint.clone()), required).unwrap();
    assert_eq!(
        offer,
        ServerMessage::CheckpointOffer {
            checkpoint: checkpoint.id,
            chunks: 2,
            covers: checkpoint.covers.clone(),
            required,
        }
    );
    (core, checkpoint)
}

#[test]
fn a_taken_checkpoint_is_sent_and_the_logs_go_on_from_what_it_covers() {
    let (mut core, checkpoint) = offering(Vec::new(), false);
    // The device may push before it answers; anything else waits for the answer.
    assert!(matches!(
        core.message(push(vec![entry("a", 3)])),
        Ok(Request::Push(_))
    ));
    let take = ClientMessage::TakeCheckpoint {
        checkpoint: Some(checkpoint.id),
    };
    match core.message(take) {
        Ok(Request::SendCheckpoint(c)) => assert_eq!(c, checkpoint),
        other => panic!("expected the checkpoint sent, got {other:?}"),
    }
    core.checkpoint_sent();
    assert_eq!(core.phase(), &Phase::CatchingUp);
    assert_eq!(core.page_from(&id("b"), 9), Some(6));

    let (mut core, _) = offering(Vec::new(), false);
    let list = ClientMessage::ListDevices {
        cursors: Vec::new(),
    };
    assert_eq!(refused_request(core.message(list)), RefusalCode::BadMessage);

    let (mut core, _) = offering(Vec::new(), false);
    let other = ClientMessage::TakeCheckpoint {
        checkpoint: Some(CheckpointId([7; 16])),
    };
    assert_eq!(
        refused_request(core.message(other)),
        RefusalCode::BadMessage
    );

    let (mut core, _) = offering(Vec::new(), false);
    assert_eq!(
        refusal_of(core.checkpoint_replaced()).0,
        RefusalCode::Unavailable
    );
}

#[test]
fn a_declined_checkpoint_leaves_the_logs_sent_from_the_cursors() {
    let (mut core, _) = offering(vec![cursor("b", 1)], true);
    let decline = ClientMessage::TakeCheckpoint { checkpoint: None };
    assert!(matches!(core.message(decline), Ok(Request::Nothing)));
    assert_eq!(core.phase(), &Phase::CatchingUp);
    assert_eq!(core.page_from(&id("b"), 9), Some(1));
}

#[test]
fn a_checkpoint_is_offered_only_when_useful_and_never_to_an_older_hello() {
    let covers = StoredCheckpoint {
        id: CheckpointId([3; 16]),
        chunks: 1,
        covers: vec![cursor("b", 6)],
    };
    // A device with cursors and nothing pruned past them gets the log.
    let mut core = Core::new(limits());
    core.hello(hello(vec![cursor("b", 1)], Some(key(5))))
        .unwrap();
    core.admitted(&[]);
    assert_eq!(
        core.checkpoint_needed(&[(id("b"), 0)]).unwrap(),
        Some(false)
    );
    assert_eq!(core.offer(Some(covers.clone()), false), None);
    // A device that has everything it covers is not offered it.
    let mut core = Core::new(limits());
    core.hello(hello(vec![cursor("b", 6)], Some(key(5))))
        .unwrap();
    core.admitted(&[]);
    assert_eq!(core.offer(Some(covers), true), None);

    // An older hello: no offer; refused in a code it knows once it is needed.
    let mut core = Core::new(limits());
    core.hello(hello(vec![cursor("b", 1)], None)).unwrap();
    core.admitted(&[]);
    assert_eq!(core.checkpoint_needed(&[(id("b"), 1)]).unwrap(), None);
    let end = core.checkpoint_needed(&[(id("b"), 3)]).unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::UnsupportedVersion);
}

fn registered(device: &str, verifier: Option<[u8; 32]>, removed: bool) -> RegisteredDevice {
    RegisteredDevice {
        device: id(device),
        verifier,
        sealed_name: Vec::new(),
        removed,
    }
}

#[test]
fn devices_are_admitted_on_their_own_credential() {
    let mine = key(5).credential.verifier();
    // New: registered with its key.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    assert_eq!(
        core.admission(&[]).unwrap(),
        Admission::Register {
            verifier: mine,
            sealed_name: key(5).sealed_name
        }
    );
    core.registered(Some(mine)).unwrap();
    // Known: its credential must match.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    assert_eq!(
        core.admission(&[registered("a", Some(mine), false)])
            .unwrap(),
        Admission::Admitted
    );
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(6)))).unwrap();
    let end = core
        .admission(&[registered("a", Some(mine), false)])
        .unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::Unauthorized);
    // Removed: refused for good.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    let end = core
        .admission(&[registered("a", Some(mine), true)])
        .unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::DeviceRemoved);
    // An older hello: in only while no device has a credential of its own.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), None)).unwrap();
    assert_eq!(core.admission(&[]).unwrap(), Admission::Admitted);
    let end = core
        .admission(&[registered("b", Some(mine), false)])
        .unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::Unauthorized);
}

#[test]
fn a_hello_is_authenticated_against_the_account() {
    let record = |verifier: [u8; 32]| AccountRecord {
        verifier,
        moved_to: None,
        rotating_from: None,
    };
    let mut core = Core::new(limits());
    let h = core.hello(hello(Vec::new(), None)).unwrap();
    assert_eq!(
        core.authenticate(Some(&record(h.verifier)), &h).unwrap(),
        Authentication::Known
    );
    let end = core.authenticate(Some(&record([0; 32])), &h).unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::Unauthorized);
    let end = core.authenticate(None, &h).unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::UnknownAccount);
    let end = core.registration(Registration::InviteRequired).unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::RegistrationClosed);

    let moved = AccountRecord {
        moved_to: Some(OTHER_ACCOUNT),
        ..record(h.verifier)
    };
    assert_eq!(
        core.opening(Some(&moved)).unwrap(),
        Opening::Moved(OTHER_ACCOUNT)
    );
    let rekeying = AccountRecord {
        rotating_from: Some(OTHER_ACCOUNT),
        ..record(h.verifier)
    };
    assert_eq!(
        refusal_of(core.opening(Some(&rekeying)).unwrap_err()).0,
        RefusalCode::Unavailable
    );
}

#[test]
fn a_moved_account_sends_a_proven_device_where_it_went() {
    let mine = key(5).credential.verifier();
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    assert!(core
        .moved_device(&[registered("a", Some(mine), false)])
        .unwrap());
    assert_eq!(
        core.moved(OTHER_ACCOUNT, Some(vec![1, 2])).unwrap(),
        ServerMessage::Moved {
            to: OTHER_ACCOUNT,
            wrapped: vec![1, 2]
        }
    );
    // Another credential, or none wrapped for it: told the account was re-keyed.
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(6)))).unwrap();
    assert!(!core
        .moved_device(&[registered("a", Some(mine), false)])
        .unwrap());
    let end = core.moved(OTHER_ACCOUNT, None).unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::AccountRekeyed);
    let mut core = Core::new(limits());
    core.hello(hello(Vec::new(), Some(key(5)))).unwrap();
    let end = core
        .moved_device(&[registered("a", Some(mine), true)])
        .unwrap_err();
    assert_eq!(refusal_of(end).0, RefusalCode::DeviceRemoved);
}

#[test]
fn devices_requests_are_answered_or_refused() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let (frames, end) = split(core.renamed(id("b"), true));
    assert_eq!(
        frames,
        vec![ServerMessage::DeviceRenamed { device: id("b") }]
    );
    assert_eq!(end, None);
    let effects = core.removed(id("b"), true);
    assert!(matches!(
        effects.as_slice(),
        [Effect::HubRemove(d), Effect::Send(ServerMessage::DeviceRemoved { .. })] if *d == id("b")
    ));
    let (_, end) = split(core.removed(id("c"), false));
    assert_eq!(end, Some(RefusalCode::UnknownDevice));

    // No wrap key from a device without a credential of its own.
    let mut core = live_core(Vec::new(), None);
    let set = ClientMessage::SetWrapKey {
        key: WrapKey {
            public: [1; 32],
            mac: [2; 32],
        },
    };
    assert_eq!(
        refused_request(core.message(set)),
        RefusalCode::UnknownDevice
    );
}

fn blob() -> BlobId {
    BlobId([6; 32])
}

#[test]
fn a_stored_blob_chunk_is_acknowledged_and_counted_once() {
    let core = live_core(Vec::new(), Some(key(5)));
    let put = BlobPut::Stored {
        new: true,
        complete: false,
    };
    let effects = core.blob_put(blob(), ChunkIndex(2), put);
    assert!(matches!(
        effects.as_slice(),
        [
            Effect::Count(Metric::BlobChunksStored),
            Effect::Send(ServerMessage::BlobChunkStored {
                index: ChunkIndex(2),
                complete: false,
                ..
            })
        ]
    ));
    // A chunk held already: acknowledged, not counted.
    let again = BlobPut::Stored {
        new: false,
        complete: true,
    };
    let (frames, end) = split(core.blob_put(blob(), ChunkIndex(2), again));
    assert_eq!(end, None);
    assert!(matches!(
        frames.as_slice(),
        [ServerMessage::BlobChunkStored { complete: true, .. }]
    ));
}

#[test]
fn a_refused_blob_is_refused_alone_and_the_session_goes_on() {
    let mut core = live_core(Vec::new(), Some(key(5)));
    let why = crate::store::BlobRefusal::QuotaExceeded {
        used: 10,
        bytes: 20,
        quota: 25,
    };
    let (frames, end) = split(core.blob_put(blob(), ChunkIndex(0), BlobPut::Refused(why)));
    assert_eq!(end, None);
    assert!(matches!(
        frames.as_slice(),
        [ServerMessage::BlobRefused { blob: b, refusal }]
            if *b == blob() && refusal.code == RefusalCode::QuotaExceeded
    ));

    let partial = BlobState::Partial {
        chunks: 3,
        present: vec![ChunkIndex(0)],
    };
    let refusal = core.blob_download(blob(), partial).unwrap_err();
    assert!(matches!(
        split(refusal).0.as_slice(),
        [ServerMessage::BlobRefused { refusal, .. }] if refusal.code == RefusalCode::BlobNotFound
    ));
    assert!(matches!(
        core.blob_download(blob(), BlobState::Complete { chunks: 3 }),
        Ok(3)
    ));
    let sent = core
        .blob_chunk(blob(), ChunkIndex(1), 3, Some(vec![7; 4]))
        .unwrap();
    assert!(matches!(
        sent.as_slice(),
        [Effect::Count(Metric::BlobChunksSent), Effect::Send(ServerMessage::BlobChunk(c))]
            if c.index == ChunkIndex(1) && c.chunks == 3
    ));
    let missing = core.blob_chunk(blob(), ChunkIndex(2), 3, None).unwrap_err();
    assert!(matches!(
        split(missing).0.as_slice(),
        [ServerMessage::BlobRefused { refusal, .. }]
            if refusal.code == RefusalCode::BlobNotFound && refusal.message.contains("chunk 2")
    ));
    assert_eq!(core.phase(), &Phase::Live);
    assert!(matches!(
        core.live(Some(Live::Moved)).as_slice(),
        [Effect::End(End::Closed)]
    ));
}
