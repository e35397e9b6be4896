//! Stories: the account's devices through a real relay. Each device has a name
//! and a credential of its own; the list shows when each was last seen and how
//! many entries it has not applied; a device is renamed; a removed device is
//! refused at once, its open session closed, and it sees nothing written after;
//! an account's devices from before device credentials keep working until one
//! registers.

use std::time::Duration;

use aftercall_app::sync::{self, ConnState, DeviceRow, RemovingThisDevice, SyncHandle};
use aftercall_shared::crypto::{AccountSecret, DeviceName};
use aftercall_shared::protocol::{ClientMessage, DeviceId, RefusalCode, ServerMessage};
use aftercall_shared::sync::SyncError;

use crate::support::{fails, json, ok};
use crate::sync_support::{raw_device_key, refusal_of, sync_all, Device, RawClient, Relay};

/// `names` as devices of one new account on `relay`, each named at set-up.
async fn named_account(relay: &Relay, names: &[&'static str]) -> (Vec<Device>, String) {
    let devices: Vec<Device> = names.iter().map(|n| Device::new(n)).collect();
    let phrase = sync::create_account(devices[0].dir(), Some(&relay.url())).unwrap();
    sync::set_device_name(devices[0].dir(), &DeviceName::new(names[0]).unwrap()).unwrap();
    devices[0].sync().await;
    for d in &devices[1..] {
        sync::set_device_name(d.dir(), &DeviceName::new(d.name).unwrap()).unwrap();
        sync::pair(d.dir(), &relay.url(), &phrase).await.unwrap();
    }
    (devices, phrase)
}

fn row<'a>(rows: &'a [DeviceRow], name: &str) -> &'a DeviceRow {
    rows.iter()
        .find(|r| r.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no device named {name}: {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_listed_with_their_names_last_seen_and_entries_waiting_and_renamed() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, _) = named_account(&relay, &["Work laptop", "Ada's phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    sync_all(&[laptop, phone]).await;
    // The laptop writes three conversations the phone has not seen.
    for i in 0..3 {
        laptop.capture("Grace", &format!("not yet on the phone {i}"));
    }
    laptop.sync().await;

    let rows = sync::list_devices(laptop.dir()).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (me, other) = (row(&rows, "Work laptop"), row(&rows, "Ada's phone"));
    assert!(me.this_device && !other.this_device);
    assert_eq!(me.id, laptop.store().device_id().to_string());
    assert_eq!(
        other.waiting, 3,
        "the phone lacks the laptop's three entries"
    );
    assert_eq!(me.waiting, 0);
    let now = chrono::Utc::now().timestamp() as u64;
    for r in [me, other] {
        let seen = r.last_seen.expect("seen");
        assert!(seen <= now && seen + 120 > now, "{r:?}");
    }
    // The phone syncs: the relay learns it applied them at its next hello (or
    // when it lists the devices itself); then nothing waits for it.
    phone.sync().await;
    let rows = sync::list_devices(phone.dir()).await.unwrap();
    assert_eq!(row(&rows, "Ada's phone").waiting, 0);
    let rows = sync::list_devices(laptop.dir()).await.unwrap();
    assert_eq!(row(&rows, "Ada's phone").waiting, 0);
    // The phone writes two: they wait for the laptop until it has them.
    phone.capture("Linus", "from the phone 1");
    phone.capture("Linus", "from the phone 2");
    phone.sync().await;
    let rows = sync::list_devices(phone.dir()).await.unwrap();
    assert_eq!(row(&rows, "Work laptop").waiting, 2);
    let rows = sync::list_devices(laptop.dir()).await.unwrap();
    assert_eq!(row(&rows, "Work laptop").waiting, 0);

    // Renamed from the laptop, the phone is listed under its new name everywhere.
    sync::rename_device(laptop.dir(), "ada's PHONE", "Phone (old)")
        .await
        .unwrap();
    let seen_from_phone = sync::list_devices(phone.dir()).await.unwrap();
    assert!(row(&seen_from_phone, "Phone (old)").this_device);
    assert!(sync::rename_device(laptop.dir(), "nobody", "x")
        .await
        .is_err());
    let bad = sync::rename_device(laptop.dir(), "Work laptop", "tab\there").await;
    assert!(bad.is_err());

    // The relay never holds a name in the clear.
    let db = std::fs::read(relay.sqlite_path()).unwrap();
    for name in ["Work laptop", "Ada's phone", "Phone (old)"] {
        assert!(
            !db.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} in the relay's file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_is_refused_at_once_its_session_closed_and_sees_nothing_after() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, _) = named_account(&relay, &["laptop", "lost phone", "tablet"]).await;
    let (laptop, phone, tablet) = (&devices[0], &devices[1], &devices[2]);
    laptop.capture("Ada", "before the phone was lost");
    sync_all(&[laptop, phone, tablet]).await;
    assert!(phone.knows("before the phone was lost"));

    // The phone stays connected in the background.
    let handle = SyncHandle::start(phone.dir().to_path_buf());
    let mut status = handle.status();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == ConnState::UpToDate),
    )
    .await
    .expect("the phone is live")
    .unwrap();

    // A device cannot remove itself.
    let itself = sync::remove_device(laptop.dir(), "laptop")
        .await
        .unwrap_err();
    assert!(itself.is::<RemovingThisDevice>(), "{itself:#}");

    let removed = sync::remove_device(laptop.dir(), "lost phone")
        .await
        .unwrap();
    assert_eq!(removed.id, phone.store().device_id().to_string());
    // Its open session is closed, with a state that says why, and not retried.
    let removed_state = tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == ConnState::Removed),
    )
    .await
    .expect("the phone's session is closed at once")
    .unwrap()
    .clone();
    assert!(
        removed_state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("removed")),
        "{removed_state:?}"
    );
    handle.stop();

    laptop.capture("Ada", "after the phone was lost");
    sync_all(&[laptop, tablet]).await;
    assert!(tablet.knows("after the phone was lost"));
    // Its credential is refused, by type.
    let refused = sync::sync_once(phone.dir()).await.unwrap_err();
    let sync_error = refused.downcast_ref::<SyncError>().expect("a sync error");
    assert!(sync_error.is_device_removed(), "{refused:#}");
    assert!(!phone.knows("after the phone was lost"));
    // Listed no more; removing it again says so.
    let rows = sync::list_devices(tablet.dir()).await.unwrap();
    let names: Vec<&str> = rows.iter().map(DeviceRow::label).collect();
    assert_eq!(names, {
        let mut n = vec!["laptop", "tablet"];
        n.sort_by_key(|name| {
            rows.iter()
                .find(|r| r.label() == *name)
                .map(|r| r.id.clone())
        });
        n
    });
    assert!(sync::remove_device(tablet.dir(), "lost phone")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_from_before_device_credentials_keep_working_until_one_registers() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let phrase =
        AccountSecret::generate(&mut aftercall_shared::env::SeededEntropy::new(42)).phrase();
    let keys = AccountSecret::from_phrase(&phrase).unwrap().keys();
    let old_hello = |device: &str| ClientMessage::Hello {
        account: keys.account,
        credential: keys.credential.clone(),
        device: DeviceId::new(device).unwrap(),
        create: true,
        invite: None,
        cursors: vec![],
        device_key: None,
    };
    // An older version's hello, with the account credential alone, creates and
    // uses the account while no device has a credential of its own.
    for _ in 0..2 {
        let mut old = RawClient::connect(&relay).await;
        old.send(&old_hello("old-laptop")).await;
        assert!(matches!(
            old.next().await,
            Some(ServerMessage::Welcome { .. })
        ));
    }
    // A device registers its own credential at its hello …
    let mut new = RawClient::connect(&relay).await;
    let answer = new.hello(&phrase, "new-phone", false).await;
    assert_eq!(refusal_of(&answer), None, "{answer:?}");
    // … and from then on the account credential alone is not enough.
    let mut old = RawClient::connect(&relay).await;
    old.send(&old_hello("old-laptop")).await;
    let answer = vec![old.next().await.unwrap()];
    assert_eq!(refusal_of(&answer), Some(RefusalCode::Unauthorized));
    // The registered device id with another credential is refused too.
    let mut thief = RawClient::connect(&relay).await;
    let mut hello = old_hello("new-phone");
    if let ClientMessage::Hello { device_key, .. } = &mut hello {
        *device_key = Some(raw_device_key("someone-else"));
    }
    thief.send(&hello).await;
    let answer = vec![thief.next().await.unwrap()];
    assert_eq!(refusal_of(&answer), Some(RefusalCode::Unauthorized));
    // The old laptop, updated, registers on its next hello.
    let mut updated = RawClient::connect(&relay).await;
    let answer = updated.hello(&phrase, "old-laptop", false).await;
    assert_eq!(refusal_of(&answer), None, "{answer:?}");
}

#[test]
fn devices_are_named_listed_renamed_and_removed_from_the_command_line() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let laptop = tempfile::tempdir().unwrap();
    let phone = tempfile::tempdir().unwrap();
    let init = ok(
        laptop.path(),
        &["init", "--relay", &relay.url(), "--name", "Work laptop"],
    );
    let phrase = crate::support::phrase_after(&init, "Your recovery phrase");
    let bad = fails(
        phone.path(),
        &[
            "pair",
            "--relay",
            &relay.url(),
            "--phrase",
            &phrase,
            "--name",
            " ",
        ],
    );
    assert!(bad.contains("device name cannot be empty"), "{bad}");
    ok(
        phone.path(),
        &[
            "pair",
            "--relay",
            &relay.url(),
            "--phrase",
            &phrase,
            "--name",
            "Phone",
        ],
    );

    let listed = json(laptop.path(), &["devices"]);
    let names: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["this_device"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("Work laptop", true)), "{listed}");
    assert!(names.contains(&("Phone", false)), "{listed}");
    assert!(ok(laptop.path(), &["devices"]).contains("Work laptop (this device)"));

    ok(laptop.path(), &["devices", "rename", "Phone", "Old phone"]);
    assert!(ok(phone.path(), &["devices"]).contains("Old phone (this device)"));

    let itself = fails(laptop.path(), &["devices", "remove", "Work laptop"]);
    assert!(itself.contains("a device cannot remove itself"), "{itself}");
    ok(laptop.path(), &["devices", "remove", "Old phone"]);
    let started = std::time::Instant::now();
    let refused = fails(phone.path(), &["sync"]);
    assert!(refused.contains("removed from the account"), "{refused}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a removed device fails at once, it does not retry"
    );
}
