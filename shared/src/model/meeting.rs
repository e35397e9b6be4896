//! A meeting from the user's calendar: one occurrence, who was invited, and whether
//! the app has asked how it went.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{CalendarUid, InteractionId, MeetingId, MeetingPromptState};

/// Someone invited to a meeting (or organising it), as the calendar names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Attendee {
    /// Normalised: lower case, without `mailto:`.
    pub email: String,
    /// The name the calendar gives, when it gives one other than the address.
    pub name: Option<String>,
    /// The calendar's owner: the user themself.
    pub is_owner: bool,
    pub declined: bool,
}

/// One occurrence of a meeting from the calendar, kept so the app can ask how it
/// went. Its id comes from the calendar's uid and the occurrence (see
/// [`MeetingId::for_occurrence`]), so importing one calendar on two devices gives
/// one record.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Meeting {
    pub calendar_uid: CalendarUid,
    /// The occurrence's original start, milliseconds since the epoch (`None` for a
    /// meeting that does not recur).
    pub recurrence_id: Option<i64>,
    /// Milliseconds since the epoch.
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    pub summary: String,
    pub location: String,
    pub link: Option<String>,
    pub organiser: Option<Attendee>,
    pub attendees: Vec<Attendee>,
    pub cancelled: bool,
    /// Whether the app still asks how it went.
    pub prompt: MeetingPrompt,
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
}

/// Where the "how did it go?" question about a meeting stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum MeetingPrompt {
    /// Asked once it has ended (until answered).
    #[default]
    #[autosurgeon(rename = "asked")]
    Asked,
    /// A conversation was captured for it.
    #[autosurgeon(rename = "captured")]
    Captured { interaction: InteractionId },
    #[autosurgeon(rename = "dismissed")]
    Dismissed,
    /// Not a networking call: never asked about.
    #[autosurgeon(rename = "not_networking")]
    NotNetworking,
}

impl MeetingPrompt {
    /// Its state without the conversation.
    pub fn state(&self) -> MeetingPromptState {
        match self {
            MeetingPrompt::Asked => MeetingPromptState::Asked,
            MeetingPrompt::Captured { .. } => MeetingPromptState::Captured,
            MeetingPrompt::Dismissed => MeetingPromptState::Dismissed,
            MeetingPrompt::NotNetworking => MeetingPromptState::NotNetworking,
        }
    }

    /// The conversation captured for the meeting, if one was.
    pub fn interaction(&self) -> Option<&InteractionId> {
        match self {
            MeetingPrompt::Captured { interaction } => Some(interaction),
            _ => None,
        }
    }
}

impl Meeting {
    /// The people invited other than the user, who have not declined.
    pub fn others(&self) -> impl Iterator<Item = &Attendee> {
        self.attendees.iter().filter(|a| !a.is_owner && !a.declined)
    }
}

impl MeetingId {
    /// The id of one occurrence of a calendar's meeting: the same on every device.
    pub fn for_occurrence(uid: &CalendarUid, recurrence_id: Option<i64>) -> MeetingId {
        let mut hasher = blake3::Hasher::new_derive_key("aftercall 2026-12 meeting id");
        hasher.update(uid.as_str().as_bytes());
        hasher.update(&[0]);
        if let Some(rid) = recurrence_id {
            hasher.update(&rid.to_le_bytes());
        }
        MeetingId::from(crate::env::hex(&hasher.finalize().as_bytes()[..16]))
    }
}
