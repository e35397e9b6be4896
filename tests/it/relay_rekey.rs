//! Stories of the relay's part of a re-key, spoken in raw protocol frames (the
//! relay never opens what is sealed, so sealed parts are arbitrary bytes): a
//! device moves the account to a new id, the other remaining device is told where
//! it went with its wrapped secret, anyone else is refused, sessions open during
//! the commit are closed (also on another relay node), and on the new account each
//! log starts where the rotation checkpoint says.

use aftercall_shared::protocol::{
    AccountId, CheckpointId, ChunkIndex, ClientMessage, Credential, Cursor, DeviceId, DeviceKey,
    RefusalCode, RekeyDevice, SealedChunk, SealedEntry, ServerMessage, WrapKey, WrappedSecret,
};
use aftercall_sync_server::test_postgres as postgres;
use aftercall_sync_server::{Config, Database};

use crate::sync_support::{raw_device_key, refusal_of, RawClient, Relay};

const OLD: AccountId = AccountId([0x01; 16]);
const OLD_CREDENTIAL: Credential = Credential([0x11; 32]);
const NEW: AccountId = AccountId([0x02; 16]);
const NEW_CREDENTIAL: Credential = Credential([0x22; 32]);
const ROTATION: CheckpointId = CheckpointId([0x33; 16]);

/// The old account's id and credential.
fn old() -> (AccountId, Credential) {
    (OLD, OLD_CREDENTIAL)
}

/// The new account's id and credential.
fn new() -> (AccountId, Credential) {
    (NEW, NEW_CREDENTIAL)
}

fn id(device: &str) -> DeviceId {
    DeviceId::new(device).unwrap()
}

fn cursor(device: &str, seq: u64) -> Cursor {
    Cursor {
        device: id(device),
        seq,
    }
}

fn entries(device: &str, seqs: std::ops::RangeInclusive<u64>) -> Vec<SealedEntry> {
    seqs.map(|seq| SealedEntry {
        device: id(device),
        seq,
        sealed: vec![seq as u8; 64],
    })
    .collect()
}

fn wrap_key(byte: u8) -> WrapKey {
    WrapKey {
        public: [byte; 32],
        mac: [byte ^ 0x0f; 32],
    }
}

fn wrapped(byte: u8) -> Vec<u8> {
    vec![byte; 80]
}

/// Says hello and returns the relay's first answer.
async fn hello(
    client: &mut RawClient,
    (account, credential): (AccountId, Credential),
    device: &str,
    create: bool,
    cursors: Vec<Cursor>,
    key: Option<DeviceKey>,
) -> ServerMessage {
    client
        .send(&ClientMessage::Hello {
            account,
            credential,
            device: id(device),
            create,
            invite: None,
            cursors,
            device_key: key,
        })
        .await;
    client.next().await.expect("an answer to hello")
}

/// A session of `device` on `account`, read up to "caught up" (the log, not a
/// checkpoint, when one is offered); returns the client and its `Welcome`.
async fn session(
    relay: &Relay,
    account: (AccountId, Credential),
    device: &str,
    create: bool,
) -> (RawClient, ServerMessage) {
    let mut client = RawClient::connect(relay).await;
    let welcome = hello(
        &mut client,
        account,
        device,
        create,
        vec![],
        Some(raw_device_key(device)),
    )
    .await;
    assert!(
        matches!(welcome, ServerMessage::Welcome { .. }),
        "{device}: {welcome:?}"
    );
    loop {
        match client.next().await {
            Some(ServerMessage::CaughtUp) => break,
            Some(ServerMessage::CheckpointOffer { .. }) => {
                client
                    .send(&ClientMessage::TakeCheckpoint { checkpoint: None })
                    .await
            }
            Some(_) => {}
            None => panic!("{device}'s session closed before catching up"),
        }
    }
    (client, welcome)
}

/// The relay's next message other than live entries of other devices, or `None`
/// once it closed.
async fn next_answer(client: &mut RawClient) -> Option<ServerMessage> {
    loop {
        match client.next().await {
            Some(ServerMessage::Entries { .. }) => continue,
            other => return other,
        }
    }
}

/// Pushes `batch` and waits for the relay to store it.
async fn push(client: &mut RawClient, batch: Vec<SealedEntry>) -> ServerMessage {
    client.send(&ClientMessage::Push { entries: batch }).await;
    next_answer(client).await.expect("an answer to the push")
}

/// The old account with a phone and a laptop that registered wrap keys and
/// pushed their logs (phone 1..=3, laptop 1..=2), and a device removed; returns
/// the phone's and the laptop's open sessions.
async fn account_with_devices(relay: &Relay) -> (RawClient, RawClient) {
    let (mut phone, _) = session(relay, old(), "phone", true).await;
    assert_eq!(
        push(&mut phone, entries("phone", 1..=3)).await,
        ServerMessage::Stored { up_to: 3 }
    );
    phone
        .send(&ClientMessage::SetWrapKey { key: wrap_key(1) })
        .await;
    let (mut laptop, _) = session(relay, old(), "laptop", false).await;
    assert_eq!(
        push(&mut laptop, entries("laptop", 1..=2)).await,
        ServerMessage::Stored { up_to: 2 }
    );
    laptop
        .send(&ClientMessage::SetWrapKey { key: wrap_key(2) })
        .await;
    let (lost, _) = session(relay, old(), "lost", false).await;
    drop(lost);
    phone
        .send(&ClientMessage::RemoveDevice { device: id("lost") })
        .await;
    assert_eq!(
        next_answer(&mut phone).await,
        Some(ServerMessage::DeviceRemoved { device: id("lost") })
    );
    (phone, laptop)
}

/// Begins the re-key to `NEW` from `client`, its checkpoint covering phone 3 and
/// laptop 2 in two chunks; returns the devices the relay lists.
async fn begin(client: &mut RawClient) -> Vec<RekeyDevice> {
    client
        .send(&ClientMessage::BeginRotation {
            to: NEW,
            credential: NEW_CREDENTIAL,
            checkpoint: ROTATION,
            chunks: 2,
            covers: vec![cursor("phone", 3), cursor("laptop", 2)],
        })
        .await;
    for index in 0..2 {
        client
            .send(&ClientMessage::CheckpointChunk(SealedChunk {
                checkpoint: ROTATION,
                index: ChunkIndex(index),
                sealed: vec![0xc0 + index as u8; 200],
            }))
            .await;
    }
    match next_answer(client).await {
        Some(ServerMessage::RotationBegun { to, devices }) if to == NEW => devices,
        other => panic!("expected RotationBegun, got {other:?}"),
    }
}

async fn commit(client: &mut RawClient) {
    client
        .send(&ClientMessage::CommitRotation {
            to: NEW,
            wraps: vec![
                WrappedSecret {
                    device: id("phone"),
                    sealed: wrapped(1),
                },
                WrappedSecret {
                    device: id("laptop"),
                    sealed: wrapped(2),
                },
            ],
        })
        .await;
    assert_eq!(
        next_answer(client).await,
        Some(ServerMessage::RotationCommitted { to: NEW })
    );
    assert_eq!(next_answer(client).await, None, "the session ends");
}

/// The value of the unlabelled metric `name` in a `/metrics` answer.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_moves_the_remaining_devices_and_refuses_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut phone, mut laptop) = account_with_devices(&relay).await;

    // A wrap key from a device with no credential of its own (an older version,
    // let in only while no device of its account registered one) is refused.
    let mut older = RawClient::connect(&relay).await;
    let legacy = (AccountId([8; 16]), Credential([8; 32]));
    let answer = hello(&mut older, legacy, "older", true, vec![], None).await;
    assert!(
        matches!(answer, ServerMessage::Welcome { .. }),
        "{answer:?}"
    );
    assert_eq!(older.next().await, Some(ServerMessage::CaughtUp));
    older
        .send(&ClientMessage::SetWrapKey { key: wrap_key(8) })
        .await;
    let answer = older.next().await.unwrap();
    // Said in a refusal code such a hello's version reads (it knows no
    // `UnknownDevice`).
    assert_eq!(refusal_of(&[answer]), Some(RefusalCode::BadMessage));

    let devices = begin(&mut phone).await;
    assert_eq!(
        devices,
        [
            RekeyDevice {
                device: id("laptop"),
                wrap_key: Some(wrap_key(2))
            },
            RekeyDevice {
                device: id("phone"),
                wrap_key: Some(wrap_key(1))
            },
        ],
        "the removed device is left out"
    );
    // Until the commit the new account opens to nobody, and the old one works.
    let mut early = RawClient::connect(&relay).await;
    let answer = hello(
        &mut early,
        (NEW, NEW_CREDENTIAL),
        "phone",
        false,
        vec![],
        Some(raw_device_key("phone")),
    )
    .await;
    assert_eq!(refusal_of(&[answer]), Some(RefusalCode::Unavailable));
    assert_eq!(
        push(&mut laptop, entries("laptop", 3..=3)).await,
        ServerMessage::Stored { up_to: 3 }
    );
    // A commit naming a device the account never registered is refused.
    let (mut other, _) = session(&relay, old(), "tablet", false).await;
    other
        .send(&ClientMessage::CommitRotation {
            to: NEW,
            wraps: vec![WrappedSecret {
                device: id("ghost"),
                sealed: wrapped(9),
            }],
        })
        .await;
    let refused = next_answer(&mut other).await.unwrap();
    assert_eq!(refusal_of(&[refused]), Some(RefusalCode::BadMessage));

    commit(&mut phone).await;
    // The laptop's session, open during the commit, is closed.
    assert_eq!(next_answer(&mut laptop).await, None);
    let metrics = relay.get("/metrics").await;
    assert_eq!(
        metric(&metrics, "aftercall_relay_rotations_begun_total"),
        1.0
    );
    assert_eq!(
        metric(&metrics, "aftercall_relay_rotations_committed_total"),
        1.0
    );

    // Its hello is told where the account went, with its own wrapped secret (also
    // when it still asks to create the account, as the device that created it may).
    for (device, byte, create) in [
        ("laptop", 2, false),
        ("phone", 1, false),
        ("laptop", 2, true),
    ] {
        let mut client = RawClient::connect(&relay).await;
        let answer = hello(
            &mut client,
            old(),
            device,
            create,
            vec![],
            Some(raw_device_key(device)),
        )
        .await;
        assert_eq!(
            answer,
            ServerMessage::Moved {
                to: NEW,
                wrapped: wrapped(byte)
            }
        );
        assert_eq!(client.next().await, None, "the session ends");
    }
    // Anyone else is refused: unregistered (also asking to create), registered
    // after the wrap (the tablet had none), a wrong own credential; a removed device as
    // removed; a wrong account credential as before.
    let stranger = DeviceKey {
        credential: Credential([0x77; 32]),
        sealed_name: Vec::new(),
    };
    let refused = [
        ("stranger", false, Some(raw_device_key("stranger")), old()),
        ("tablet", false, Some(raw_device_key("tablet")), old()),
        ("newcomer", true, Some(raw_device_key("newcomer")), old()),
        ("laptop", false, Some(stranger), old()),
        ("laptop", false, None, old()),
    ];
    for (device, create, key, account) in refused {
        // A hello without a device key may come from a version that knows no
        // `AccountRekeyed`: it is said in a code that version reads.
        let expected = if key.is_some() {
            RefusalCode::AccountRekeyed
        } else {
            RefusalCode::BadMessage
        };
        let mut client = RawClient::connect(&relay).await;
        let answer = hello(&mut client, account, device, create, vec![], key).await;
        match &answer {
            ServerMessage::Refused(r) => {
                assert_eq!(r.code, expected, "{device}");
                assert!(r.message.contains("new recovery phrase"), "{}", r.message);
            }
            other => panic!("{device}: {other:?}"),
        }
    }
    let mut lost = RawClient::connect(&relay).await;
    let answer = hello(
        &mut lost,
        old(),
        "lost",
        false,
        vec![],
        Some(raw_device_key("lost")),
    )
    .await;
    assert_eq!(refusal_of(&[answer]), Some(RefusalCode::DeviceRemoved));
    let mut wrong = RawClient::connect(&relay).await;
    let answer = hello(
        &mut wrong,
        (OLD, Credential([0x12; 32])),
        "laptop",
        false,
        vec![],
        Some(raw_device_key("laptop")),
    )
    .await;
    assert_eq!(refusal_of(&[answer]), Some(RefusalCode::Unauthorized));

    // On the new account the phone, covered up to 3, starts there: its next
    // entry is stored, and a re-push of the floor is no gap.
    let mut phone = RawClient::connect(&relay).await;
    let welcome = hello(
        &mut phone,
        new(),
        "phone",
        false,
        vec![cursor("laptop", 2)],
        Some(raw_device_key("phone")),
    )
    .await;
    assert_eq!(
        welcome,
        ServerMessage::Welcome {
            own_head: 3,
            own_hash: None,
            damaged: vec![]
        }
    );
    assert_eq!(phone.next().await, Some(ServerMessage::CaughtUp));
    assert_eq!(
        push(&mut phone, entries("phone", 3..=4)).await,
        ServerMessage::Stored { up_to: 4 }
    );

    // The laptop, whose cursors are below the floors, is offered the rotation
    // checkpoint as required, then the tail after it; it re-pushes what the
    // checkpoint lacked.
    let mut laptop = RawClient::connect(&relay).await;
    let welcome = hello(
        &mut laptop,
        new(),
        "laptop",
        false,
        vec![cursor("phone", 1)],
        Some(raw_device_key("laptop")),
    )
    .await;
    assert!(
        matches!(welcome, ServerMessage::Welcome { own_head: 2, .. }),
        "{welcome:?}"
    );
    assert_eq!(
        laptop.next().await,
        Some(ServerMessage::CheckpointOffer {
            checkpoint: ROTATION,
            chunks: 2,
            covers: vec![cursor("phone", 3), cursor("laptop", 2)],
            required: true,
        })
    );
    laptop
        .send(&ClientMessage::TakeCheckpoint {
            checkpoint: Some(ROTATION),
        })
        .await;
    for index in 0..2 {
        match laptop.next().await {
            Some(ServerMessage::CheckpointChunk(chunk)) => {
                assert_eq!(chunk.index, ChunkIndex(index));
                assert_eq!(chunk.sealed, vec![0xc0 + index as u8; 200]);
            }
            other => panic!("expected a chunk, got {other:?}"),
        }
    }
    assert_eq!(
        laptop.next().await,
        Some(ServerMessage::Entries {
            entries: entries("phone", 4..=4)
        })
    );
    assert_eq!(laptop.next().await, Some(ServerMessage::CaughtUp));
    assert_eq!(
        push(&mut laptop, entries("laptop", 3..=3)).await,
        ServerMessage::Stored { up_to: 3 }
    );
    relay.stop().await;
}

/// Beginning again replaces a re-key never committed: the old account works as
/// before for every device meanwhile, and the commit goes to the newest target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_begun_and_never_committed_changes_nothing_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut phone, mut laptop) = account_with_devices(&relay).await;
    begin(&mut phone).await;
    // The rotating session goes away before committing.
    drop(phone);
    assert_eq!(
        push(&mut laptop, entries("laptop", 3..=3)).await,
        ServerMessage::Stored { up_to: 3 }
    );
    let (mut phone, welcome) = session(&relay, (OLD, OLD_CREDENTIAL), "phone", false).await;
    assert!(matches!(
        welcome,
        ServerMessage::Welcome { own_head: 3, .. }
    ));
    // A target that is another account is refused.
    let (someone, _) = session(&relay, (AccountId([9; 16]), Credential([9; 32])), "x", true).await;
    drop(someone);
    phone
        .send(&ClientMessage::BeginRotation {
            to: AccountId([9; 16]),
            credential: NEW_CREDENTIAL,
            checkpoint: ROTATION,
            chunks: 1,
            covers: vec![],
        })
        .await;
    let refused = next_answer(&mut phone).await.unwrap();
    assert_eq!(refusal_of(&[refused]), Some(RefusalCode::Conflict));
    let (mut phone, _) = session(&relay, (OLD, OLD_CREDENTIAL), "phone", false).await;
    // Begun again and committed: it moves.
    begin(&mut phone).await;
    commit(&mut phone).await;
    assert_eq!(next_answer(&mut laptop).await, None);
    let mut client = RawClient::connect(&relay).await;
    let answer = hello(
        &mut client,
        (OLD, OLD_CREDENTIAL),
        "laptop",
        false,
        vec![],
        Some(raw_device_key("laptop")),
    )
    .await;
    assert_eq!(
        answer,
        ServerMessage::Moved {
            to: NEW,
            wrapped: wrapped(2)
        }
    );
    relay.stop().await;
}

/// Two relay nodes on one PostgreSQL: the re-key is committed through node 1 while
/// the laptop's session is open on node 2, which closes it; node 2 then tells the
/// laptop where the account went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_through_one_relay_node_closes_the_sessions_on_another() {
    let db = postgres::server().database().await;
    let node = || {
        Relay::start_with(
            Config::new(Database::from(db.config.clone())),
            "127.0.0.1:0",
        )
    };
    let (node1, node2) = (node(), node());
    let (mut phone, _) = session(&node1, old(), "phone", true).await;
    phone
        .send(&ClientMessage::SetWrapKey { key: wrap_key(1) })
        .await;
    assert_eq!(
        push(&mut phone, entries("phone", 1..=3)).await,
        ServerMessage::Stored { up_to: 3 }
    );
    let (mut laptop, _) = session(&node2, old(), "laptop", false).await;
    laptop
        .send(&ClientMessage::SetWrapKey { key: wrap_key(2) })
        .await;
    // Through node 1; the laptop's wrap key, stored through node 2, is listed.
    let devices = begin(&mut phone).await;
    assert_eq!(
        devices.iter().map(|d| d.wrap_key).collect::<Vec<_>>(),
        [Some(wrap_key(2)), Some(wrap_key(1))]
    );
    let pushed = push(&mut laptop, entries("laptop", 1..=2)).await;
    assert_eq!(pushed, ServerMessage::Stored { up_to: 2 });
    commit(&mut phone).await;
    // Node 2 closes the laptop's session on the database's signal.
    assert_eq!(next_answer(&mut laptop).await, None);
    let mut client = RawClient::connect(&node2).await;
    let answer = hello(
        &mut client,
        old(),
        "laptop",
        false,
        vec![],
        Some(raw_device_key("laptop")),
    )
    .await;
    assert_eq!(
        answer,
        ServerMessage::Moved {
            to: NEW,
            wrapped: wrapped(2)
        }
    );
    // The old account's logs are gone from the database; the new one starts at
    // the checkpoint's cursors.
    let client = db.connect().await;
    let left: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM entries WHERE account = $1",
            &[&&OLD.0[..]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let heads: Vec<(String, i64)> = client
        .query(
            "SELECT device, head FROM devices WHERE account = $1 ORDER BY device",
            &[&&NEW.0[..]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(heads, [("laptop".to_string(), 2), ("phone".to_string(), 3)]);
    node1.stop().await;
    node2.stop().await;
}
