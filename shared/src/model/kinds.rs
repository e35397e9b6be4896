//! The small closed vocabularies of the model: kinds, channels, states.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::Day;
use crate::Error;

/// Which kind of record a document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Person,
    Interaction,
    Event,
    Meeting,
}

/// What a conversation was: the distinction the whole app is built around.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// Helped them, talked about your business, made your offer where it fit.
    #[autosurgeon(rename = "value")]
    Value,
    /// A pleasant chat that never got to business.
    #[default]
    #[autosurgeon(rename = "casual")]
    Casual,
    /// Met at a networking event.
    #[autosurgeon(rename = "event")]
    Event,
    #[autosurgeon(rename = "other")]
    Other,
}

/// How the conversation happened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    #[default]
    #[autosurgeon(rename = "phone")]
    Phone,
    #[autosurgeon(rename = "video")]
    Video,
    #[autosurgeon(rename = "in-person")]
    InPerson,
    #[autosurgeon(rename = "message")]
    Message,
}

/// Whether a thank-you is owed for a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ThankYou {
    #[default]
    #[autosurgeon(rename = "not_needed")]
    NotNeeded,
    #[autosurgeon(rename = "to_send")]
    ToSend,
    /// Sent on the given day.
    #[autosurgeon(rename = "sent")]
    Sent { on: Day },
}

/// The state of a [`ThankYou`] without its date, as lists carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThankYouState {
    #[default]
    NotNeeded,
    ToSend,
    Sent,
}

/// How far a suggested introduction has come.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    Reconcile,
    Hydrate,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReferralStatus {
    #[default]
    #[autosurgeon(rename = "suggested")]
    Suggested,
    #[autosurgeon(rename = "intro-asked")]
    IntroAsked,
    #[autosurgeon(rename = "intro-made")]
    IntroMade,
    #[autosurgeon(rename = "talked")]
    Talked,
}

/// The state of a [`super::MeetingPrompt`] without the conversation it names, as
/// lists carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingPromptState {
    #[default]
    Asked,
    Captured,
    Dismissed,
    NotNetworking,
}

macro_rules! words {
    ($ty:ty, $what:literal, $( $variant:path => [$($word:literal),+] ),+ $(,)?) => {
        impl $ty {
            /// The word used in the read model, on the command line and in exports.
            pub fn as_str(&self) -> &'static str {
                #[allow(unreachable_patterns)]
                match self { $( $variant { .. } => words!(@first $($word),+), )+ }
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                let folded = s.trim().to_lowercase().replace(['_', ' '], "-");
                $( if [$($word),+].contains(&folded.as_str()) { return Ok(words!(@build $variant)); } )+
                Err(Error::invalid(format!(
                    concat!("unknown ", $what, " '{}': use one of {}"),
                    s.trim(),
                    [$(words!(@first $($word),+)),+].join(", ")
                )))
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl $ty {
            /// Every value, in the order choices are offered.
            pub const ALL: &'static [$ty] = &[$($variant),+];
        }
        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::Borrowed(
                    rusqlite::types::ValueRef::Text(self.as_str().as_bytes()),
                ))
            }
        }
        impl rusqlite::types::FromSql for $ty {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e: Error| {
                    rusqlite::types::FromSqlError::Other(Box::new(e))
                })
            }
        }
    };
    (@first $first:literal $(, $rest:literal)*) => { $first };
    (@build $variant:path) => { $variant };
}

words!(DocKind, "record kind",
    DocKind::Person => ["person"],
    DocKind::Interaction => ["interaction"],
    DocKind::Event => ["event"],
    DocKind::Meeting => ["meeting"],
);
words!(InteractionKind, "kind",
    InteractionKind::Value => ["value", "value-call"],
    InteractionKind::Casual => ["casual", "chat", "casual-chat"],
    InteractionKind::Event => ["event"],
    InteractionKind::Other => ["other"],
);
words!(Channel, "channel",
    Channel::Phone => ["phone", "call"],
    Channel::Video => ["video", "zoom"],
    Channel::InPerson => ["in-person", "inperson", "person", "meeting"],
    Channel::Message => ["message", "email", "text", "chat"],
);
words!(ThankYouState, "thank-you state",
    ThankYouState::NotNeeded => ["not_needed", "not-needed", "none"],
    ThankYouState::ToSend => ["to_send", "to-send"],
    ThankYouState::Sent => ["sent"],
);
words!(MeetingPromptState, "meeting state",
    MeetingPromptState::Asked => ["asked"],
    MeetingPromptState::Captured => ["captured"],
    MeetingPromptState::Dismissed => ["dismissed"],
    MeetingPromptState::NotNetworking => ["not_networking", "not-networking"],
);
words!(ReferralStatus, "referral status",
    ReferralStatus::Suggested => ["suggested"],
    ReferralStatus::IntroAsked => ["intro-asked", "asked"],
    ReferralStatus::IntroMade => ["intro-made", "introduced", "made"],
    ReferralStatus::Talked => ["talked", "contacted", "done"],
);

impl ThankYou {
    /// Its state without the date.
    pub fn state(&self) -> ThankYouState {
        match self {
            ThankYou::NotNeeded => ThankYouState::NotNeeded,
            ThankYou::ToSend => ThankYouState::ToSend,
            ThankYou::Sent { .. } => ThankYouState::Sent,
        }
    }

    /// The day it was sent, if it was.
    pub fn sent_on(&self) -> Option<Day> {
        match self {
            ThankYou::Sent { on } => Some(*on),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_forgivingly_and_print_canonically() {
        assert_eq!(
            "Value".parse::<InteractionKind>().unwrap(),
            InteractionKind::Value
        );
        assert_eq!("in person".parse::<Channel>().unwrap(), Channel::InPerson);
        assert_eq!(
            "intro_made".parse::<ReferralStatus>().unwrap(),
            ReferralStatus::IntroMade
        );
        assert_eq!(Channel::InPerson.to_string(), "in-person");
        let err = "banana".parse::<InteractionKind>().unwrap_err().to_string();
        assert!(err.contains("unknown kind 'banana'"), "{err}");
        assert!(err.contains("value, casual, event, other"), "{err}");
    }
}
