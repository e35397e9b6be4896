//! Stories: the relay cannot read, wrong phrases are refused, accounts stay apart,
//! and forged or damaged entries are set aside while everything else syncs.

use aftercall_app::sync;
use aftercall_shared::crypto::AccountSecret;
use aftercall_shared::env::SeededEntropy;
use aftercall_shared::protocol::{
    ClientMessage, DeviceId, RefusalCode, SealedEntry, ServerMessage,
};
use aftercall_sync_server::store::{RelayStore, SqliteStore};

use crate::sync_support::{account, assert_converged, entries_of, Device, RawClient, Relay};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_phrase_is_refused_and_nothing_is_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["phone"]).await;
    devices[0].capture("Ada", "pricing");
    devices[0].sync().await;

    let stranger = Device::new("stranger");
    stranger.capture("Mallory", "secret plans of the stranger");
    let other_phrase = AccountSecret::generate(&mut SeededEntropy::new(99)).phrase();
    let err = sync::pair(stranger.dir(), &relay.url(), &other_phrase)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("no account for this recovery phrase"),
        "{err:#}"
    );

    let mut words: Vec<&str> = phrase.split(' ').collect();
    words.swap(3, 7);
    let typo = words.join(" ");
    if typo != phrase {
        let err = sync::pair(stranger.dir(), &relay.url(), &typo)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("recovery phrase"), "{err:#}");
    }

    assert_eq!(
        sync::recovery_phrase(stranger.dir()).unwrap(),
        None,
        "no key saved"
    );
    let keys = AccountSecret::from_phrase(&phrase).unwrap().keys();
    let heads = SqliteStore::open(relay.sqlite_path())
        .unwrap()
        .heads(&keys.account)
        .await
        .unwrap();
    assert_eq!(
        heads.len(),
        1,
        "only the phone's log is on the relay: {heads:?}"
    );
    assert!(!devices[0].knows("secret plans of the stranger"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_can_neither_read_nor_write_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (alice, alice_phrase) = account(&relay, &["alice-phone"]).await;
    alice[0].capture("Ada", "alice's private pipeline");
    alice[0].sync().await;
    let (mallory, mallory_phrase) = account(&relay, &["mallory"]).await;
    mallory[0].capture("Eve", "mallory's note");
    mallory[0].sync().await;
    alice[0].sync().await;

    assert!(!mallory[0].knows("alice's private pipeline"));
    assert!(!alice[0].knows("mallory's note"));

    // Mallory presenting her credential under Alice's account id is refused.
    let alice_keys = AccountSecret::from_phrase(&alice_phrase).unwrap().keys();
    let mallory_keys = AccountSecret::from_phrase(&mallory_phrase).unwrap().keys();
    let mut raw = RawClient::connect(&relay).await;
    raw.send(&ClientMessage::Hello {
        account: alice_keys.account,
        credential: mallory_keys.credential.clone(),
        device: DeviceId::new("mallory-raw").unwrap(),
        create: true,
        invite: None,
        cursors: vec![],
        device_key: None,
    })
    .await;
    let answer = raw.next().await.expect("a refusal");
    assert!(
        matches!(&answer, ServerMessage::Refused(r) if r.code == RefusalCode::Unauthorized),
        "{answer:?}"
    );
    assert!(
        raw.next().await.is_none(),
        "the relay closes after refusing"
    );

    // And under her own account she only ever sees her own data.
    let mut raw = RawClient::connect(&relay).await;
    let msgs = raw.hello(&mallory_phrase, "mallory-raw", false).await;
    assert!(entries_of(&msgs)
        .iter()
        .all(|e| aftercall_shared::crypto::open(&mallory_keys, e).is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_database_holds_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    devices[0].capture("Zebediah Quaternion", "MARKER-PLAINTEXT-7731 pricing");
    devices[0].sync().await;
    devices[1].sync().await;
    assert!(devices[1].knows("MARKER-PLAINTEXT-7731"), "it did sync");
    let db = relay.sqlite_path().to_path_buf();
    relay.stop().await;
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096, "the relay database was written");
    for marker in ["MARKER-PLAINTEXT-7731", "Zebediah", "Quaternion"] {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{marker} found in the relay database"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_entry_is_quarantined_and_a_bit_flipped_one_repaired_while_the_rest_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    phone.capture("Ada", "first from phone");
    phone.capture("Ada", "second from phone");
    phone.capture("Ada", "third from phone");
    laptop.capture("Grace", "from the laptop");
    phone.sync().await;
    laptop.sync().await;

    // Someone with access to the relay's disk flips one bit of the phone's entry 2.
    let keys = AccountSecret::from_phrase(&phrase).unwrap().keys();
    let phone_id = phone.store().device_id().to_string();
    {
        let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
        let mut sealed: Vec<u8> = conn
            .query_row(
                "SELECT sealed FROM entries WHERE account = ?1 AND device = ?2 AND seq = 2",
                rusqlite::params![&keys.account.0[..], phone_id],
                |r| r.get(0),
            )
            .unwrap();
        sealed[40] ^= 0x04;
        conn.execute(
            "UPDATE entries SET sealed = ?1 WHERE account = ?2 AND device = ?3 AND seq = 2",
            rusqlite::params![sealed, &keys.account.0[..], phone_id],
        )
        .unwrap();
    }
    // And someone holding only the credential uploads an entry they cannot seal.
    let mut forger = RawClient::connect(&relay).await;
    forger.hello(&phrase, "f0f0f0", false).await;
    forger
        .send(&ClientMessage::Push {
            entries: vec![SealedEntry {
                device: DeviceId::new("f0f0f0").unwrap(),
                seq: 1,
                sealed: vec![7; 96],
            }],
        })
        .await;
    assert_eq!(
        forger.next().await,
        Some(ServerMessage::Stored { up_to: 1 })
    );

    let tablet = Device::new("tablet");
    sync::pair(tablet.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    tablet.sync().await;

    assert!(tablet.knows("first from phone"));
    assert!(
        tablet.knows("from the laptop"),
        "other devices' entries still sync"
    );
    assert!(
        !tablet.knows("second from phone"),
        "the damaged entry is not applied"
    );
    assert!(
        !tablet.knows("third from phone"),
        "nor the one after it, applied out of order"
    );
    // The relay found the damage before sending it: nothing of the phone's log is
    // set aside, only the forgery.
    let quarantined = tablet.store().quarantined().unwrap();
    let set_aside: Vec<(String, u64)> = quarantined
        .iter()
        .map(|q| (q.device.clone(), q.seq))
        .collect();
    assert_eq!(
        set_aside,
        vec![("f0f0f0".to_string(), 1)],
        "{quarantined:?}"
    );
    assert_eq!(sync::read_status(tablet.dir()).unwrap().quarantined, 1);

    // Syncing again changes nothing and counts nothing twice.
    tablet.sync().await;
    assert_eq!(tablet.store().quarantined_count().unwrap(), 1);

    // The phone still has its entry: its next sync sends a fresh copy, and every
    // reader then gets the rest of the phone's log.
    phone.sync().await;
    tablet.sync().await;
    laptop.sync().await;
    assert!(
        tablet.knows("second from phone"),
        "the repaired entry arrives"
    );
    assert!(tablet.knows("third from phone"));
    assert!(laptop.knows("third from phone"));
    let late = Device::new("late");
    sync::pair(late.dir(), &relay.url(), &phrase).await.unwrap();
    assert!(late.knows("second from phone") && late.knows("from the laptop"));
    assert_converged(&[phone, laptop, &late]);
}
