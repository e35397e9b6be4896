//! A conversation: a call, a chat, a meeting at an event.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use super::{Attachment, AttachmentId};
use super::{Channel, Day, InteractionKind, Referral, ThankYou};

/// A follow-up date and whether it was done.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct FollowUp {
    pub on: Day,
    pub done: bool,
}

/// One Interaction document.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Interaction {
    /// Ids of the Persons in the conversation, the first being the main one.
    pub people: Vec<String>,
    /// When it happened, milliseconds since the epoch.
    pub at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub kind: InteractionKind,
    #[autosurgeon(missing = "Default::default")]
    pub channel: Channel,
    #[autosurgeon(missing = "Default::default")]
    pub talked_about: Text,
    #[autosurgeon(missing = "Default::default")]
    pub recommended: Text,
    #[autosurgeon(missing = "Default::default")]
    pub observations: Text,
    #[autosurgeon(missing = "Default::default")]
    pub next_step: Text,
    #[autosurgeon(missing = "Default::default")]
    pub business_discussed: bool,
    #[autosurgeon(missing = "Default::default")]
    pub offer_made: bool,
    #[autosurgeon(missing = "Default::default")]
    pub thank_you: ThankYou,
    #[autosurgeon(missing = "Default::default")]
    pub follow_up: Option<FollowUp>,
    /// Referral id → referral.
    #[autosurgeon(missing = "Default::default")]
    pub referrals: BTreeMap<String, Referral>,
    /// Id of the Event where it happened.
    #[autosurgeon(missing = "Default::default")]
    pub event: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
    /// Attachment id → the attachment's reference (its bytes are a local blob).
    #[autosurgeon(missing = "Default::default")]
    pub attachments: BTreeMap<AttachmentId, Attachment>,
}
