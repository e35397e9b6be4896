//! The capture form's state. A half-typed capture is kept (by the platform, see
//! `platform.rs`) on every change and removed once saved.

use aftercall_shared::commands::{CaptureDraft, PersonRef, ReferralDraft};
use aftercall_shared::model::{Day, InteractionKind, PersonId};
use aftercall_shared::queries::MeetingToAsk;
use serde::{Deserialize, Serialize};

/// The draft file's name inside the data directory.
pub const DRAFT_FILE: &str = "capture-draft.json";

/// The setting holding the kind of the last capture, the next one's default.
pub const KIND_SETTING: &str = "capture.kind";

/// The kind [`KIND_SETTING`] remembers (a value call when unset or unreadable).
pub fn remembered_kind(setting: Option<String>) -> InteractionKind {
    setting
        .and_then(|k| k.parse().ok())
        .unwrap_or(InteractionKind::Value)
}

/// What the capture form holds: the domain draft plus what only the form needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub capture: CaptureDraft,
    /// The person as typed.
    pub person_text: String,
    /// The person picked from the suggestions: (id, name).
    pub person_picked: Option<(PersonId, String)>,
    /// A stable key per referral row, so rows keep their typed text when one is removed.
    pub referral_keys: Vec<u64>,
    /// Who else it was with, shown as chips: a calendar meeting's guests.
    pub with: Vec<WithPerson>,
    /// The calendar meeting's title, when the capture is for one.
    pub meeting_summary: String,
}

/// Someone the capture is with besides the person typed, and how they read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithPerson {
    pub label: String,
    pub person: PersonRef,
}

impl Draft {
    /// An empty form with the remembered kind.
    pub fn new(kind: InteractionKind) -> Self {
        let mut d = Draft::default();
        d.capture.kind = kind;
        d
    }

    /// The form for "how did it go?" after a calendar meeting: its guests, its start
    /// and how it was held, saved as the meeting's conversation.
    pub fn for_meeting(meeting: &MeetingToAsk, kind: InteractionKind) -> Self {
        let mut d = Draft::new(kind);
        d.capture = meeting.capture();
        d.capture.kind = kind;
        // The guests show as chips; the form adds the people typed to them.
        let people = std::mem::take(&mut d.capture.people);
        d.with = meeting
            .guests
            .iter()
            .zip(people)
            .map(|(g, person)| WithPerson {
                label: g.label().to_string(),
                person,
            })
            .collect();
        d.meeting_summary = meeting.summary.clone();
        d
    }

    /// The form with someone already picked.
    pub fn with_person(id: PersonId, name: String, kind: InteractionKind) -> Self {
        let mut d = Draft::new(kind);
        d.person_text = name.clone();
        d.person_picked = Some((id, name));
        d
    }

    /// Nothing typed or chosen beyond the defaults.
    pub fn is_blank(&self) -> bool {
        self.person_text.trim().is_empty()
            && self.person_picked.is_none()
            && self.with.is_empty()
            && self.capture.is_blank()
    }

    /// The domain draft to save: the people shown as chips, then the picked person,
    /// else the typed name.
    pub fn to_capture(&self) -> CaptureDraft {
        let mut c = self.capture.clone();
        c.people = self.with.iter().map(|w| w.person.clone()).collect();
        match (&self.person_picked, self.person_text.trim()) {
            (Some((id, _)), _) => c.people.push(PersonRef::Existing(id.clone())),
            (None, "") => {}
            (None, name) => c.people.push(PersonRef::Named(name.to_string())),
        }
        c.referrals.retain(|r| !r.name.trim().is_empty());
        c
    }

    /// The name the conversation is with, as it will read after saving.
    pub fn person_name(&self) -> String {
        match (&self.person_picked, self.with.first()) {
            (Some((_, name)), _) => name.clone(),
            (None, Some(w)) if self.person_text.trim().is_empty() => w.label.clone(),
            (None, _) => self.person_text.trim().to_string(),
        }
    }

    /// Adds an empty referral row.
    pub fn add_referral(&mut self) {
        let key = self.referral_keys.iter().max().map_or(0, |k| k + 1);
        self.capture.referrals.push(ReferralDraft::default());
        self.referral_keys.push(key);
    }

    /// Removes the referral row with `key`.
    pub fn remove_referral(&mut self, key: u64) {
        if let Some(i) = self.referral_keys.iter().position(|k| *k == key) {
            self.referral_keys.remove(i);
            if i < self.capture.referrals.len() {
                self.capture.referrals.remove(i);
            }
        }
    }

    /// The referral row with `key`.
    pub fn referral_mut(&mut self, key: u64) -> Option<&mut ReferralDraft> {
        let i = self.referral_keys.iter().position(|k| *k == key)?;
        self.capture.referrals.get_mut(i)
    }

    /// Sets or clears the follow-up date; choosing the chosen date again clears it.
    pub fn toggle_follow_up(&mut self, date: Day) {
        self.capture.follow_up = if self.capture.follow_up == Some(date) {
            None
        } else {
            Some(date)
        };
    }
}

/// A draft read back from JSON, if it reads; its rows and keys always pair up,
/// whatever an older file held.
pub fn from_json(text: &str) -> Option<Draft> {
    let mut draft: Draft = serde_json::from_str(text).ok()?;
    let n = draft.capture.referrals.len();
    draft.referral_keys.truncate(n);
    while draft.referral_keys.len() < n {
        let key = draft.referral_keys.iter().max().map_or(0, |k| k + 1);
        draft.referral_keys.push(key);
    }
    Some(draft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_people_win_over_typed_text_and_empty_referrals_are_dropped() {
        let mut d = Draft::new(InteractionKind::Value);
        d.person_text = "An".into();
        assert_eq!(d.to_capture().people, vec![PersonRef::Named("An".into())]);
        d.person_picked = Some(("p1".into(), "Ana".into()));
        assert_eq!(
            d.to_capture().people,
            vec![PersonRef::Existing("p1".into())]
        );
        d.add_referral();
        d.add_referral();
        d.referral_mut(1).unwrap().name = "Bo".into();
        d.remove_referral(0);
        assert_eq!(d.referral_keys, vec![1]);
        assert_eq!(d.to_capture().referrals.len(), 1);
        assert_eq!(d.to_capture().referrals[0].name, "Bo");
    }

    #[test]
    fn a_meetings_form_holds_its_guests_its_start_and_the_meeting() {
        use aftercall_shared::model::{Channel, PersonId};
        use aftercall_shared::queries::{Guest, PersonName};
        let start = chrono::DateTime::from_timestamp(1_796_400_000, 0).unwrap();
        let meeting = MeetingToAsk {
            id: "m1".into(),
            start,
            end: start + chrono::Duration::minutes(30),
            summary: "Coffee with Bob".into(),
            location: "Café Rosa".into(),
            link: None,
            channel: Channel::InPerson,
            guests: vec![
                Guest {
                    email: "ana@x.org".into(),
                    name: Some("Ana M.".into()),
                    person: Some(PersonName {
                        id: PersonId::from("p-ana"),
                        name: "Ana Müller".into(),
                    }),
                },
                Guest {
                    email: "bob@stone.dev".into(),
                    name: None,
                    person: None,
                },
            ],
        };
        let mut d = Draft::for_meeting(&meeting, InteractionKind::Casual);
        assert!(!d.is_blank());
        assert_eq!(d.person_name(), "Ana Müller");
        let labels: Vec<&str> = d.with.iter().map(|w| w.label.as_str()).collect();
        assert_eq!(labels, vec!["Ana Müller", "bob@stone.dev"]);
        // Someone typed besides the guests joins them.
        d.person_text = "Carla".into();
        let c = d.to_capture();
        assert_eq!(
            c.people,
            vec![
                PersonRef::Existing("p-ana".into()),
                PersonRef::Guest {
                    email: "bob@stone.dev".into(),
                    name: None
                },
                PersonRef::Named("Carla".into()),
            ]
        );
        assert_eq!(c.at, Some(start));
        assert_eq!(c.channel, Channel::InPerson);
        assert_eq!(c.meeting, Some("m1".into()));
        assert_eq!(c.kind, InteractionKind::Casual);
        // It survives being kept as the draft.
        let back = from_json(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn choosing_the_same_follow_up_twice_clears_it() {
        let mut d = Draft::default();
        let day: Day = "2026-11-24".parse().unwrap();
        d.toggle_follow_up(day);
        assert_eq!(d.capture.follow_up, Some(day));
        d.toggle_follow_up(day);
        assert_eq!(d.capture.follow_up, None);
    }
}
