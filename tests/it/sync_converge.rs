//! Stories: devices that were offline converge whatever order they reconnect in.

use aftercall_shared::commands::InteractionEdit;

use crate::sync_support::{account, assert_converged, sync_all, Relay};

fn orders(n: usize) -> Vec<Vec<usize>> {
    fn permute(rest: Vec<usize>, prefix: Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if rest.is_empty() {
            out.push(prefix);
            return;
        }
        for i in 0..rest.len() {
            let mut r = rest.clone();
            let x = r.remove(i);
            let mut p = prefix.clone();
            p.push(x);
            permute(r, p, out);
        }
    }
    let mut out = Vec::new();
    permute((0..n).collect(), Vec::new(), &mut out);
    out
}

async fn offline_captures_converge(names: &[&'static str]) {
    for order in orders(names.len()) {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let (devices, _) = account(&relay, names).await;
        for d in &devices {
            d.capture(
                &format!("Ada met on {}", d.name),
                &format!("pricing, said on {}", d.name),
            );
            d.capture("Grace", &format!("hiring, noted on {}", d.name));
        }
        let ordered: Vec<_> = order.iter().map(|&i| &devices[i]).collect();
        sync_all(&ordered).await;
        let rows = assert_converged(&ordered);
        for d in &devices {
            assert!(
                rows.iter()
                    .any(|r| r.contains(&format!("pricing, said on {}", d.name))),
                "order {order:?}: {}'s capture is missing",
                d.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_offline_captures_converge_in_either_reconnect_order() {
    offline_captures_converge(&["phone", "laptop"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_offline_captures_converge_in_every_reconnect_order() {
    offline_captures_converge(&["phone", "laptop", "tablet"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_note_edited_on_two_offline_devices_keeps_both_edits() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    let id = phone.capture("Ada", "Talked about pricing.");
    sync_all(&[phone, laptop]).await;
    assert!(laptop.knows("Talked about pricing."));

    let edit = |text: &str| InteractionEdit {
        talked_about: Some(text.to_string()),
        ..Default::default()
    };
    phone
        .store()
        .edit_interaction(&id, &edit("Talked about pricing. Phone: she wants a demo."))
        .unwrap();
    laptop
        .store()
        .edit_interaction(&id, &edit("Laptop: budget is fixed. Talked about pricing."))
        .unwrap();
    sync_all(&[laptop, phone]).await;

    let rows = assert_converged(&[phone, laptop]);
    let row = rows
        .iter()
        .find(|r| r.starts_with("interactions:") && r.contains(id.as_str()))
        .expect("the interaction row");
    assert!(row.contains("Phone: she wants a demo."), "{row}");
    assert!(row.contains("Laptop: budget is fixed."), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_on_one_device_and_an_edit_on_another_end_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop", "tablet"]).await;
    let (phone, laptop, tablet) = (&devices[0], &devices[1], &devices[2]);
    let id = phone.capture("Ada", "Talked about pricing.");
    sync_all(&[phone, laptop, tablet]).await;

    phone.store().delete(&id).unwrap();
    laptop
        .store()
        .edit_interaction(
            &id,
            &InteractionEdit {
                talked_about: Some("Talked about pricing and a pilot.".into()),
                ..Default::default()
            },
        )
        .unwrap();
    sync_all(&[laptop, tablet, phone]).await;

    // The designed outcome: the tombstone wins (the conversation stays deleted and can
    // be restored), and the edit is kept inside it.
    assert_converged(&[phone, laptop, tablet]);
    for d in [phone, laptop, tablet] {
        let rows = d.snapshot();
        let row = interaction_row(&rows, &id);
        assert!(row.contains("pilot"), "{}: {row}", d.name);
        assert!(
            row.ends_with("| Integer(1)"),
            "{} shows it not deleted: {row}",
            d.name
        );
    }
    phone.store().restore(&id).unwrap();
    sync_all(&[phone, laptop, tablet]).await;
    let rows = assert_converged(&[phone, laptop, tablet]);
    let row = interaction_row(&rows, &id);
    assert!(
        row.contains("pilot") && row.ends_with("| Integer(0)"),
        "{row}"
    );
}

fn interaction_row<'a>(rows: &'a [String], id: &aftercall_shared::model::InteractionId) -> &'a str {
    rows.iter()
        .find(|r| r.starts_with("interactions:") && r.contains(id.as_str()))
        .expect("the interaction row")
}

/// A calendar with one meeting that ended an hour ago, with Rosa.
fn calendar_with_a_meeting_that_ended() -> String {
    let start = chrono::Utc::now() - chrono::Duration::minutes(90);
    let end = start + chrono::Duration::minutes(30);
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:intro-call@example.com\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Intro call\r\n\
         LOCATION:https://meet.example.com/intro\r\n\
         ORGANIZER;CN=Me:mailto:me@example.com\r\n\
         ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(start),
        stamp(end)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_captured_on_one_device_is_asked_about_on_none() {
    use aftercall_shared::commands::CaptureDraft;
    use aftercall_shared::interop::CalendarImportOptions;

    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    // The same calendar reaches both devices before they sync.
    let options = CalendarImportOptions {
        owner: vec!["me@example.com".into()],
        ..Default::default()
    };
    let calendar = calendar_with_a_meeting_that_ended();
    for d in [phone, laptop] {
        d.store()
            .import_calendar(calendar.as_bytes(), &options)
            .unwrap();
    }
    let asked = |d: &crate::sync_support::Device| d.store().meetings_to_ask(10).unwrap();
    let on_phone = asked(phone);
    assert_eq!(on_phone.total, 1);
    assert_eq!(
        asked(laptop).meetings[0].id,
        on_phone.meetings[0].id,
        "one meeting, one id"
    );
    // The phone, offline, captures it.
    let meeting = &on_phone.meetings[0];
    let draft = CaptureDraft {
        talked_about: "their hiring plans".into(),
        ..meeting.capture()
    };
    phone.store().capture(&draft).unwrap();
    assert_eq!(asked(phone).total, 0);
    assert_eq!(asked(laptop).total, 1, "the laptop has not heard yet");
    sync_all(&[phone, laptop]).await;
    assert_eq!(
        asked(laptop).total,
        0,
        "captured on the phone: not asked on the laptop"
    );
    let rows = assert_converged(&[phone, laptop]);
    assert!(rows.iter().any(|r| r.contains("their hiring plans")));
    let rosa = laptop.store().find_person("Rosa Diaz").unwrap();
    let diary = laptop.store().diary(&rosa).unwrap();
    assert_eq!(diary.person.emails, vec!["rosa@diaz.example".to_string()]);
    assert_eq!(diary.interactions.len(), 1);
    // Importing the calendar again on the laptop asks nothing again.
    laptop
        .store()
        .import_calendar(calendar.as_bytes(), &options)
        .unwrap();
    assert_eq!(asked(laptop).total, 0);
}
