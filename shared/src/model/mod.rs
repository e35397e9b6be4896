//! The records a user keeps, each one Automerge document mapped with autosurgeon.
//!
//! Free text is [`autosurgeon::Text`], so two devices editing the same note merge
//! character by character. Deletion is a `deleted` tombstone: a delete on one device
//! and an edit on another both survive, the record stays deleted and a restore
//! brings the edited record back.

mod event;
mod interaction;
mod kinds;
mod person;
mod referral;

pub use event::Event;
pub use interaction::{FollowUp, Interaction};
pub use kinds::{Channel, DocKind, InteractionKind, ReferralStatus, ThankYou};
pub use person::{Person, PostalAddress, RelatedName};
pub use referral::Referral;
