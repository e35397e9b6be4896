//! Requests and replies survive the trip through bytes; bad bytes give errors.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::*;
use crate::commands::{EventRef, PersonRef, ReferralDraft, ReferralEdit};
use crate::model::{Channel, InteractionKind, ThankYou};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-zA-Z0-9 éü]{1,12}", any::<String>(),]
}

fn day() -> impl Strategy<Value = Day> {
    (0i64..40_000).prop_map(|n| {
        Day::new(chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Duration::days(n))
    })
}

fn id<T: From<String> + std::fmt::Debug>() -> impl Strategy<Value = T> {
    "[0-9a-f]{1,32}".prop_map(T::from)
}

fn kind() -> impl Strategy<Value = InteractionKind> {
    prop::sample::select(InteractionKind::ALL.to_vec())
}

fn status() -> impl Strategy<Value = ReferralStatus> {
    prop::sample::select(ReferralStatus::ALL.to_vec())
}

fn draft() -> impl Strategy<Value = CaptureDraft> {
    (
        prop::collection::vec(
            prop_oneof![
                id().prop_map(PersonRef::Existing),
                text().prop_map(PersonRef::Named)
            ],
            0..3,
        ),
        kind(),
        prop::sample::select(Channel::ALL.to_vec()),
        text(),
        any::<(bool, bool, bool)>(),
        prop::option::of(day()),
        prop::collection::vec(
            (text(), any::<(bool, bool, bool)>(), text()).prop_map(|(name, f, reach)| {
                ReferralDraft {
                    name,
                    will_introduce: f.0,
                    will_tell: f.1,
                    may_use_name: f.2,
                    reach,
                }
            }),
            0..2,
        ),
        prop::option::of(prop_oneof![
            id().prop_map(EventRef::Existing),
            text().prop_map(EventRef::Named)
        ]),
        prop::option::of(0i64..4_000_000_000_000),
    )
        .prop_map(
            |(people, kind, channel, talked, flags, follow_up, referrals, event, at)| {
                CaptureDraft {
                    people,
                    at: at.and_then(chrono::DateTime::from_timestamp_millis),
                    kind,
                    channel,
                    talked_about: talked.clone(),
                    recommended: talked,
                    business_discussed: flags.0,
                    offer_made: flags.1,
                    thank_you: flags.2,
                    follow_up,
                    referrals,
                    event,
                    ..Default::default()
                }
            },
        )
}

fn interaction_edit() -> impl Strategy<Value = InteractionEdit> {
    (
        prop::option::of(kind()),
        prop::option::of(text()),
        prop::option::of(prop::option::of(day())),
        prop::option::of(prop_oneof![
            Just(ThankYou::NotNeeded),
            Just(ThankYou::ToSend),
            day().prop_map(|on| ThankYou::Sent { on })
        ]),
        prop::collection::vec(id::<ReferralId>(), 0..2),
        prop::option::of(id::<ReferralId>()),
    )
        .prop_map(
            |(kind, talked, follow_up, thank_you, remove, edited)| InteractionEdit {
                kind,
                talked_about: talked.clone(),
                follow_up,
                thank_you,
                remove_referrals: remove,
                edit_referrals: edited
                    .map(|id| ReferralEdit {
                        id,
                        reach: talked,
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        )
}

fn person_edit() -> impl Strategy<Value = PersonEdit> {
    (
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::option::of(prop::option::of(id::<PersonId>())),
    )
        .prop_map(|(name, emails, introduced_by)| PersonEdit {
            name,
            emails,
            introduced_by,
            ..Default::default()
        })
}

fn meeting_answer() -> impl Strategy<Value = MeetingPrompt> {
    prop_oneof![
        Just(MeetingPrompt::Asked),
        id().prop_map(|interaction| MeetingPrompt::Captured { interaction }),
        Just(MeetingPrompt::Dismissed),
        Just(MeetingPrompt::NotNetworking),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let limit = 0usize..10_000;
    prop_oneof![
        draft().prop_map(Request::Capture),
        (id(), interaction_edit()).prop_map(|(id, edit)| Request::EditInteraction { id, edit }),
        (id(), person_edit()).prop_map(|(id, edit)| Request::EditPerson { id, edit }),
        (id(), day()).prop_map(|(id, on)| Request::ThankYouSent { id, on }),
        (id(), day()).prop_map(|(id, on)| Request::PersonThanked { id, on }),
        id().prop_map(|id| Request::FollowUpDone { id }),
        (id(), day()).prop_map(|(id, to)| Request::FollowUpMoved { id, to }),
        (id(), status()).prop_map(|(id, status)| Request::ReferralStatus { id, status }),
        id().prop_map(|id| Request::Delete { id }),
        id().prop_map(|id| Request::Restore { id }),
        (id(), id()).prop_map(|(keep, other)| Request::MergePeople { keep, other }),
        limit
            .clone()
            .prop_map(|limit| Request::Duplicates { limit }),
        id().prop_map(|person| Request::DuplicatesOf { person }),
        (day(), limit.clone()).prop_map(|(day, limit)| Request::Today { day, limit }),
        limit.clone().prop_map(|limit| Request::People { limit }),
        (text(), limit.clone())
            .prop_map(|(typed, limit)| Request::PeopleNamedLike { typed, limit }),
        (text(), limit.clone()).prop_map(|(query, limit)| Request::SearchPeople { query, limit }),
        id().prop_map(|person| Request::Diary { person }),
        (day(), -900i32..900).prop_map(|(day, offset_minutes)| Request::Review {
            day,
            offset_minutes
        }),
        limit.prop_map(|limit| Request::Events { limit }),
        id().prop_map(|id| Request::EventPage { id }),
        (0usize..10_000).prop_map(|limit| Request::MeetingsToAsk { limit }),
        (id(), meeting_answer()).prop_map(|(id, answer)| Request::AnswerMeeting { id, answer }),
        text().prop_map(|key| Request::Setting { key }),
        (text(), prop::option::of(text()))
            .prop_map(|(key, value)| Request::SetSetting { key, value }),
        prop::sample::select(Export::ALL.to_vec()).prop_map(|export| Request::Export { export }),
        (prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(file, dry_run)| Request::ImportContacts { file, dry_run }),
        any::<u64>().prop_map(|n| Request::ImportNext { id: ImportId(n) }),
        (
            owner(),
            text(),
            media_type(),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(to, name, media_type, content)| Request::Attach {
                to,
                name,
                media_type,
                content
            }),
        (owner(), text()).prop_map(|(to, text)| Request::AttachText { to, text }),
        owner().prop_map(|of| Request::Attachments { of }),
        id().prop_map(|id| Request::OpenAttachment { id }),
        id().prop_map(|id| Request::RemoveAttachment { id }),
    ]
}

fn owner() -> impl Strategy<Value = AttachmentOwner> {
    prop_oneof![
        id().prop_map(AttachmentOwner::Person),
        id().prop_map(AttachmentOwner::Conversation),
    ]
}

fn media_type() -> impl Strategy<Value = MediaType> {
    prop::sample::select(vec![
        "image/jpeg",
        "text/plain",
        "application/pdf",
        "image/svg+xml",
    ])
    .prop_map(|t| t.parse().unwrap())
}

const VARIANTS: usize = 33;

proptest! {
    #[test]
    fn every_request_encodes_and_decodes_to_itself(r in request()) {
        let bytes = encode(&r);
        prop_assert_eq!(decode::<Request>(&bytes).unwrap(), r);
    }

    #[test]
    fn bytes_that_are_not_a_request_give_an_error(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        r in request(),
        cut in any::<prop::sample::Index>(),
    ) {
        // Any bytes at all: an answer or an error, never a panic.
        let _ = decode::<Request>(&bytes);
        // A request cut short is an error.
        let whole = encode(&r);
        let short = &whole[..cut.index(whole.len())];
        prop_assert!(decode::<Request>(short).is_err());
    }
}

#[test]
fn the_strategy_reaches_every_variant() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = request();
    let mut seen = BTreeSet::new();
    for _ in 0..2_000 {
        let r = strategy.new_tree(&mut runner).unwrap().current();
        seen.insert(r.name());
    }
    assert_eq!(seen.len(), VARIANTS, "{seen:?}");
}

#[test]
fn a_capture_through_a_request_is_the_capture_and_failures_are_replies() {
    let mut f = crate::tests::fixture(40);
    let draft = crate::tests::chat("Ana", InteractionKind::Value, "pricing");
    let reply: Reply = decode(&encode(
        &f.store
            .answer(&decode(&encode(&Request::Capture(draft))).unwrap()),
    ))
    .unwrap();
    let Reply::Captured(saved) = reply else {
        panic!("{reply:?}")
    };
    assert!(saved.people[0].created);
    let Reply::Diary(diary) = f.store.answer(&Request::Diary {
        person: saved.people[0].id.clone(),
    }) else {
        panic!("no diary")
    };
    assert_eq!(diary.interactions[0].id, saved.interaction_id);
    assert!(!Request::Diary {
        person: saved.people[0].id.clone()
    }
    .writes());
    assert!(Request::Delete {
        id: saved.interaction_id.clone().into()
    }
    .writes());

    match f.store.answer(&Request::Diary {
        person: "nobody".into(),
    }) {
        Reply::Failed(failure) => {
            assert_eq!(failure.kind, FailureKind::NotFound);
            assert!(failure.message.contains("no person"), "{failure}");
        }
        other => panic!("{other:?}"),
    }
    match f.store.answer(&Request::Review {
        day: "2026-11-23".parse().unwrap(),
        offset_minutes: 100_000,
    }) {
        Reply::Failed(failure) => assert_eq!(failure.kind, FailureKind::Invalid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_import_goes_batch_by_batch_through_the_service_and_ends_with_its_report() {
    let f = crate::tests::fixture(41);
    let mut service = Service::new(f.store);
    let mut file = String::new();
    for i in 0..600 {
        file.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i}\r\nEND:VCARD\r\n"
        ));
    }
    file.push_str("BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n");
    let first = ImportState::from_reply(service.answer(&Request::ImportContacts {
        file: file.into_bytes(),
        dry_run: false,
    }))
    .unwrap();
    assert!(first.report.is_none(), "nothing is written by the start");
    assert_eq!(first.progress.total, 601);
    assert_eq!(
        first.progress.done, 1,
        "only the unreadable card is handled"
    );
    let mut state = first.clone();
    let mut steps = 1;
    while state.report.is_none() {
        let next =
            ImportState::from_reply(service.answer(&Request::ImportNext { id: state.id })).unwrap();
        assert!(
            next.progress.done > state.progress.done,
            "each step moves on"
        );
        state = next;
        steps += 1;
    }
    assert_eq!(steps, 4, "the start, then 250 cards a batch");
    let report = state.report.unwrap();
    assert_eq!(report.cards.len(), 600);
    assert_eq!(
        report.skipped.len(),
        1,
        "the card without a name is reported"
    );
    // Finished imports are forgotten.
    let gone = service.answer(&Request::ImportNext { id: state.id });
    assert!(
        matches!(&gone, Reply::Failed(f) if f.kind == FailureKind::NotFound),
        "{gone:?}"
    );
    let people =
        Vec::<PersonSummary>::from_reply(service.answer(&Request::People { limit: 1000 })).unwrap();
    assert_eq!(people.len(), 600);
    // Every export answers with its file.
    for export in Export::ALL {
        let text = String::from_reply(service.answer(&Request::Export { export })).unwrap();
        assert!(!text.is_empty() || export == Export::Calendar, "{export:?}");
    }
    let vcards = String::from_reply(service.answer(&Request::Export {
        export: Export::Vcards(VcardVersion::V4),
    }))
    .unwrap();
    assert_eq!(vcards.matches("BEGIN:VCARD").count(), 600);
    // A reply of another kind is a failure, not a panic.
    assert!(Diary::from_reply(Reply::Done).is_err());
}

#[test]
fn a_file_travels_as_one_byte_string() {
    let file = vec![0xffu8; 1000];
    let bytes = encode(&Request::ImportContacts {
        file: file.clone(),
        dry_run: true,
    });
    assert!(bytes.len() < 1100, "{} bytes for 1000", bytes.len());
    assert_eq!(
        decode::<Request>(&bytes).unwrap(),
        Request::ImportContacts {
            file,
            dry_run: true
        }
    );
}

#[test]
fn attachment_content_travels_as_one_byte_string_or_none() {
    let row = crate::queries::AttachmentRow {
        id: "a1b2c3d4".into(),
        owner: AttachmentOwner::Person("p1".into()),
        name: "card.jpg".into(),
        media_type: "image/jpeg".parse().unwrap(),
        kind: crate::model::AttachmentKind::Image,
        size: 1000,
        blob: crate::model::BlobHash::of(&[7u8; 1000]),
        added_at: 1,
        downloaded: true,
    };
    for content in [Some(vec![7u8; 1000]), None] {
        let reply = Reply::AttachmentContent(AttachmentContent {
            row: row.clone(),
            content: content.clone(),
        });
        let bytes = encode(&reply);
        assert!(bytes.len() < 1300, "{} bytes", bytes.len());
        assert_eq!(decode::<Reply>(&bytes).unwrap(), reply);
    }
}
