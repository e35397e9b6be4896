//! Stories about the domain, told against real SQLite files in temporary directories.
//!
//! They run in a browser too (`bash tests/wasm-stories.sh`): there `#[test]` is
//! wasm-bindgen-test's, in a dedicated worker, and a "directory" is a fresh name in
//! SQLite's in-memory file system for wasm. The stories that handle the store's
//! files themselves (`opening`, and the few marked below) are the desktop's alone.

mod attachments;
mod capture;
mod edits;
mod merge;
mod merging;
#[cfg(not(target_arch = "wasm32"))]
mod opening;
mod queries;
mod rebuild;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

use chrono::{DateTime, TimeZone, Utc};
#[cfg(not(target_arch = "wasm32"))]
use tempfile::{tempdir, TempDir};

/// In a browser: a fresh name for each story's files, in SQLite's in-memory VFS.
#[cfg(target_arch = "wasm32")]
pub(crate) struct TempDir(std::path::PathBuf);

#[cfg(target_arch = "wasm32")]
impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(target_arch = "wasm32")]
fn tempdir() -> std::io::Result<TempDir> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Ok(TempDir(std::path::PathBuf::from(format!("/story-{n}"))))
}

use crate::commands::{CaptureDraft, PersonRef, ReferralDraft};
use crate::env::{ManualClock, SeededEntropy};
use crate::model::{Day, InteractionKind};
use crate::Store;

/// 23 November 2026, 10:00 UTC: a Monday.
pub(crate) fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

pub(crate) fn date(s: &str) -> Day {
    s.parse().unwrap()
}

/// A store in its own temporary directory with a clock the test controls.
pub(crate) struct Fixture {
    pub store: Store,
    pub clock: ManualClock,
    pub dir: TempDir,
}

pub(crate) fn fixture(seed: u64) -> Fixture {
    let dir = tempdir().unwrap();
    let clock = ManualClock::at(monday());
    let store = open_store(dir.path(), &clock, seed);
    Fixture { store, clock, dir }
}

/// Opens (again) the store file of a fixture's directory, as a restarted app would.
pub(crate) fn open_store(dir: &std::path::Path, clock: &ManualClock, seed: u64) -> Store {
    Store::open(
        &dir.join("store.sqlite"),
        Box::new(clock.clone()),
        Box::new(SeededEntropy::new(seed)),
    )
    .unwrap()
}

/// A capture with one person and a kind, the rest empty.
pub(crate) fn chat(with: &str, kind: InteractionKind, talked: &str) -> CaptureDraft {
    CaptureDraft {
        people: vec![PersonRef::Named(with.to_string())],
        kind,
        talked_about: talked.to_string(),
        ..Default::default()
    }
}

pub(crate) fn referral(name: &str, intro: bool) -> ReferralDraft {
    ReferralDraft {
        name: name.to_string(),
        will_introduce: intro,
        ..Default::default()
    }
}

/// One random step of a user's history, for randomized tests.
pub(crate) fn random_step(store: &mut Store, rng: &mut SeededEntropy, names: &[&str]) {
    use crate::commands::InteractionEdit;
    use crate::model::ReferralStatus;
    let pick = |rng: &mut SeededEntropy, n: usize| (rng.next_u64() % n as u64) as usize;
    let words = [
        "pricing", "hiring", "Zürich", "coffee", "naïve", "roadmap", "intro", "grant",
    ];
    let text = |rng: &mut SeededEntropy| -> String {
        (0..1 + pick(rng, 6))
            .map(|_| words[pick(rng, words.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let interactions: Vec<crate::model::InteractionId> = store
        .conn()
        .prepare("SELECT id FROM interactions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    match pick(rng, 11) {
        0..=4 => {
            let kinds = [
                InteractionKind::Value,
                InteractionKind::Casual,
                InteractionKind::Event,
                InteractionKind::Other,
            ];
            let mut draft = chat(
                names[pick(rng, names.len())],
                kinds[pick(rng, 4)],
                &text(rng),
            );
            draft.recommended = text(rng);
            draft.thank_you = pick(rng, 2) == 0;
            draft.business_discussed = pick(rng, 2) == 0;
            if pick(rng, 2) == 0 {
                draft.follow_up =
                    Some(date("2026-11-20") + chrono::Duration::days(pick(rng, 10) as i64));
            }
            if pick(rng, 3) == 0 {
                draft
                    .referrals
                    .push(referral(names[pick(rng, names.len())], pick(rng, 2) == 0));
            }
            store.capture(&draft).unwrap();
        }
        _ if interactions.is_empty() => {}
        5 | 6 => {
            let id = &interactions[pick(rng, interactions.len())];
            let edit = InteractionEdit {
                talked_about: Some(text(rng)),
                kind: (pick(rng, 2) == 0).then_some(InteractionKind::Value),
                ..Default::default()
            };
            store.edit_interaction(id, &edit).unwrap();
        }
        7 => {
            let id = interactions[pick(rng, interactions.len())].clone();
            if pick(rng, 2) == 0 {
                store.delete(&id).unwrap()
            } else {
                store.restore(&id).unwrap()
            }
        }
        8 => {
            let id = &interactions[pick(rng, interactions.len())];
            let _ = store.complete_follow_up(id);
        }
        9 => {
            // Attach a note to a conversation, or remove one of its attachments.
            use crate::model::AttachmentOwner;
            let id = interactions[pick(rng, interactions.len())].clone();
            let existing = store.conversation_attachments(&id).unwrap();
            if pick(rng, 3) == 0 && !existing.is_empty() {
                let gone = &existing[pick(rng, existing.len())];
                store.remove_attachment(&gone.id).unwrap();
            } else {
                match store.attach_text(&AttachmentOwner::Conversation(id), &text(rng)) {
                    Err(crate::Error::Invalid(_)) => {} // a deleted conversation
                    other => {
                        other.unwrap();
                    }
                }
            }
        }
        10 => {
            let people = store.people(100).unwrap();
            if people.len() > 1 {
                let keep = &people[pick(rng, people.len())].id;
                let other = &people[pick(rng, people.len())].id;
                if keep != other {
                    store.merge_people(keep, other).unwrap();
                }
            }
        }
        _ => {
            let today = store.today(date("2026-11-23")).unwrap();
            if let Some(r) = today.intros.first() {
                let statuses = [
                    ReferralStatus::IntroAsked,
                    ReferralStatus::IntroMade,
                    ReferralStatus::Talked,
                ];
                store
                    .set_referral_status(&r.id, statuses[pick(rng, 3)])
                    .unwrap();
            }
        }
    }
}
