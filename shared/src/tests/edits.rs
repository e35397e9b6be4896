//! Editing, thanking, following up, advancing referrals, deleting and restoring.

use super::*;
use crate::commands::{InteractionEdit, PersonEdit, ReferralEdit};
use crate::model::{ReferralStatus, ThankYou};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn editing_a_past_note_changes_only_the_given_fields() {
    let mut f = fixture(10);
    let mut draft = chat("Ana", InteractionKind::Casual, "weather");
    draft.next_step = "send deck".into();
    let saved = f.store.capture(&draft).unwrap();
    f.store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                kind: Some(InteractionKind::Value),
                talked_about: Some("weather, then her pricing problem".into()),
                business_discussed: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let i = &f.store.diary(&saved.people[0].id).unwrap().interactions[0];
    assert_eq!(i.kind, InteractionKind::Value);
    assert_eq!(i.talked_about, "weather, then her pricing problem");
    assert_eq!(i.next_step, "send deck");
    assert!(i.business_discussed);
    assert_eq!(
        f.store.search_people("pricing", 5).unwrap().len(),
        1,
        "search follows edits"
    );
    assert!(f.store.search_people("deck", 5).unwrap().len() == 1);
}

#[test]
fn thank_yous_and_follow_ups_leave_today_when_done() {
    let mut f = fixture(11);
    let mut draft = chat("Ana", InteractionKind::Value, "intro to investors");
    draft.thank_you = true;
    draft.follow_up = Some(date("2026-11-20"));
    let saved = f.store.capture(&draft).unwrap();
    let today = f.store.today(date("2026-11-23")).unwrap();
    assert_eq!(today.thank_yous.len(), 1);
    assert_eq!(today.follow_ups.len(), 1);
    assert_eq!(today.follow_ups[0].overdue_days, 3);

    f.store
        .mark_person_thanked(&saved.people[0].id, date("2026-11-23"))
        .unwrap();
    f.store
        .move_follow_up(&saved.interaction_id, date("2026-11-26"))
        .unwrap();
    let today = f.store.today(date("2026-11-23")).unwrap();
    assert!(today.thank_yous.is_empty());
    assert!(today.follow_ups.is_empty(), "moved into the future");
    assert_eq!(today.upcoming.len(), 1);
    assert_eq!(today.upcoming[0].on, date("2026-11-26"));

    f.store.complete_follow_up(&saved.interaction_id).unwrap();
    let later = f.store.today(date("2026-11-30")).unwrap();
    assert!(later.is_clear(), "{later:?}");
    let i = &f.store.diary(&saved.people[0].id).unwrap().interactions[0];
    assert_eq!(
        i.thank_you,
        ThankYou::Sent {
            on: date("2026-11-23")
        }
        .state()
    );
    assert_eq!(i.thank_you_sent_on, Some(date("2026-11-23")));
    let again = f
        .store
        .mark_person_thanked(&saved.people[0].id, date("2026-11-24"));
    assert!(again
        .unwrap_err()
        .to_string()
        .contains("no thank-you is waiting"));
}

#[test]
fn a_referral_becomes_a_person_introduced_by_the_referrer_once_the_intro_is_made() {
    let mut f = fixture(12);
    let mut draft = chat("Ana", InteractionKind::Value, "hiring");
    draft.referrals = vec![ReferralDraft {
        reach: "Tuesdays".into(),
        ..referral("Bob Stone", true)
    }];
    let saved = f.store.capture(&draft).unwrap();
    let rid = f.store.today(date("2026-11-23")).unwrap().intros[0]
        .id
        .clone();

    let asked = f
        .store
        .set_referral_status(&rid, ReferralStatus::IntroAsked)
        .unwrap();
    assert_eq!(asked.person_id, None);
    assert_eq!(
        f.store.today(date("2026-11-23")).unwrap().intros.len(),
        1,
        "still to chase"
    );

    let made = f
        .store
        .set_referral_status(&rid, ReferralStatus::IntroMade)
        .unwrap();
    assert!(made.person_created);
    let bob = made.person_id.unwrap();
    assert!(f.store.today(date("2026-11-23")).unwrap().intros.is_empty());
    let diary = f.store.diary(&bob).unwrap();
    assert_eq!(diary.person.introduced_by.unwrap().id, saved.people[0].id);
    assert_eq!(diary.person.how_met, "Referred by Ana");
    assert_eq!(diary.referrals_received.len(), 1);
    assert_eq!(
        diary.referrals_received[0].status,
        ReferralStatus::IntroMade
    );

    let talked = f
        .store
        .set_referral_status(&rid, ReferralStatus::Talked)
        .unwrap();
    assert_eq!(
        talked.person_id.as_ref().map(|p| p.as_str()),
        Some(bob.as_str())
    );
    assert!(!talked.person_created, "the person is made once");
    assert_eq!(f.store.people(10).unwrap().len(), 2);
}

#[test]
fn a_referral_to_someone_already_known_links_to_them() {
    let mut f = fixture(13);
    let known = f
        .store
        .capture(&chat("Bob Stone", InteractionKind::Casual, ""))
        .unwrap();
    let mut draft = chat("Ana", InteractionKind::Value, "");
    draft.referrals = vec![referral("bob stone", false)];
    f.store.capture(&draft).unwrap();
    let rid = f.store.today(date("2026-11-23")).unwrap().intros[0]
        .id
        .clone();
    let made = f
        .store
        .set_referral_status(&rid, ReferralStatus::Talked)
        .unwrap();
    assert_eq!(made.person_id, Some(known.people[0].id.clone()));
    assert!(!made.person_created);
}

#[test]
fn referrals_can_be_added_edited_and_removed_after_the_call() {
    let mut f = fixture(14);
    let mut draft = chat("Ana", InteractionKind::Value, "");
    draft.referrals = vec![referral("Bob", false)];
    let saved = f.store.capture(&draft).unwrap();
    let bob = f.store.today(date("2026-11-23")).unwrap().intros[0]
        .id
        .clone();
    f.store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                add_referrals: vec![referral("Cleo", true)],
                edit_referrals: vec![ReferralEdit {
                    id: bob.clone(),
                    name: Some("Bob Stone".into()),
                    may_use_name: Some(true),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let intros = f.store.today(date("2026-11-23")).unwrap().intros;
    assert_eq!(
        intros.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["Bob Stone", "Cleo"]
    );
    assert!(intros[0].may_use_name);
    f.store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                remove_referrals: vec![bob],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(f.store.today(date("2026-11-23")).unwrap().intros.len(), 1);
}

#[test]
fn deleted_records_leave_lists_and_search_and_come_back_on_restore() {
    let mut f = fixture(15);
    let mut draft = chat("Ana", InteractionKind::Value, "quantum widgets");
    draft.thank_you = true;
    let saved = f.store.capture(&draft).unwrap();
    f.store.delete(&saved.interaction_id.as_str()[..6]).unwrap();
    assert!(f.store.search_people("quantum", 5).unwrap().is_empty());
    assert!(f
        .store
        .today(date("2026-11-23"))
        .unwrap()
        .thank_yous
        .is_empty());
    assert!(f
        .store
        .diary(&saved.people[0].id)
        .unwrap()
        .interactions
        .is_empty());

    f.store.delete(&saved.people[0].id).unwrap();
    assert!(f.store.people(10).unwrap().is_empty());
    assert!(f.store.find_person("Ana").is_err());

    f.store.restore(&saved.interaction_id).unwrap();
    f.store.restore(&saved.people[0].id).unwrap();
    assert_eq!(f.store.search_people("quantum", 5).unwrap().len(), 1);
    assert_eq!(
        f.store.today(date("2026-11-23")).unwrap().thank_yous.len(),
        1
    );
}

#[test]
fn people_edits_show_in_search_and_the_diary() {
    let mut f = fixture(16);
    let saved = f
        .store
        .capture(&chat("Ana", InteractionKind::Casual, ""))
        .unwrap();
    let id = &saved.people[0].id;
    f.store
        .edit_person(
            id,
            &PersonEdit {
                organisation: Some("Zahnklinik GmbH".into()),
                role: Some("Founder".into()),
                emails: Some(vec!["ana@example.org".into()]),
                notes: Some("Speaks at dental conferences".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(f.store.search_people("zahnkl", 5).unwrap()[0].id, *id);
    assert_eq!(f.store.search_people("conferenc", 5).unwrap().len(), 1);
    let person = f.store.diary(id).unwrap().person;
    assert_eq!(person.emails, ["ana@example.org"]);
    assert_eq!(person.role, "Founder");
    assert!(f
        .store
        .edit_person(
            id,
            &PersonEdit {
                name: Some("  ".into()),
                ..Default::default()
            }
        )
        .is_err());
}

#[test]
fn ids_resolve_from_unique_prefixes_only() {
    let mut f = fixture(17);
    let saved = f
        .store
        .capture(&chat("Ana", InteractionKind::Casual, ""))
        .unwrap();
    let (full, kind) = f
        .store
        .resolve_doc(&saved.interaction_id.as_str()[..8])
        .unwrap();
    assert_eq!(full.as_str(), saved.interaction_id.as_str());
    assert_eq!(kind, crate::model::DocKind::Interaction);
    assert!(f
        .store
        .resolve_doc("abc")
        .unwrap_err()
        .to_string()
        .contains("at least 4"));
    assert!(f.store.resolve_doc("zzzz").is_err());
    assert!(f
        .store
        .resolve_doc("ffffffff")
        .unwrap_err()
        .to_string()
        .contains("no record"));
}

#[test]
fn today_shows_the_most_pressing_first_page_and_counts_everything() {
    let mut f = fixture(12);
    for i in 0..7 {
        let mut draft = chat(&format!("Person {i}"), InteractionKind::Value, "talk");
        draft.thank_you = true;
        draft.follow_up = Some(date("2026-11-10") + chrono::Duration::days(i));
        draft
            .referrals
            .push(referral(&format!("Referral {i}"), true));
        f.store.capture(&draft).unwrap();
        f.clock.advance(chrono::Duration::minutes(5));
    }
    // One due in the coming week, one done: neither counts as due.
    let mut ahead = chat("Later", InteractionKind::Casual, "soon");
    ahead.follow_up = Some(date("2026-11-25"));
    f.store.capture(&ahead).unwrap();

    let page = f.store.today_showing(date("2026-11-13"), 3).unwrap();
    assert_eq!(page.counts.thank_yous, 7);
    assert_eq!(
        page.counts.follow_ups, 4,
        "10th to 13th are due on the 13th"
    );
    assert_eq!(page.counts.intros, 7);
    assert_eq!(
        page.counts.upcoming, 3,
        "14th to 16th fall in the week after the 13th"
    );
    assert_eq!(page.thank_yous.len(), 3);
    assert_eq!(page.follow_ups.len(), 3);
    assert_eq!(page.intros.len(), 3);
    assert_eq!(page.upcoming.len(), 3);
    let names = |rows: Vec<&crate::queries::InteractionRow>| -> Vec<String> {
        rows.iter().map(|r| r.people[0].name.clone()).collect()
    };
    assert_eq!(
        names(page.thank_yous.iter().map(|t| &t.interaction).collect()),
        ["Person 0", "Person 1", "Person 2"],
        "oldest thank-you first"
    );
    assert_eq!(
        page.follow_ups
            .iter()
            .map(|f| f.overdue_days)
            .collect::<Vec<_>>(),
        [3, 2, 1],
        "most overdue first"
    );
    assert_eq!(page.intros[0].name, "Referral 0");

    let whole = f.store.today_showing(date("2026-11-13"), 100).unwrap();
    assert_eq!(whole.thank_yous.len(), 7);
    assert_eq!(whole.follow_ups.len(), 4);
    let week_later = f.store.today(date("2026-11-25")).unwrap();
    assert_eq!(
        week_later.counts.follow_ups, 8,
        "every follow-up is due by the 25th"
    );
    assert_eq!(week_later.follow_ups.len(), 8);
}
