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
    engine.handle(frame(ServerMessage::CaughtUp));
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
