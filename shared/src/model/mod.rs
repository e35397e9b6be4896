//! The records a user keeps, each one Automerge document mapped with autosurgeon.
//!
//! Free text is [`autosurgeon::Text`], so two devices editing the same note merge
//! character by character. Deletion is a `deleted` tombstone: a delete on one device
//! and an edit on another both survive, the record stays deleted and a restore
//! brings the edited record back.

mod attachment;
mod cadence;
mod event;
mod interaction;
mod kinds;
mod meeting;
pub(crate) mod person;
mod referral;
mod vocab;

pub use attachment::{
    Attachment, AttachmentKind, AttachmentOwner, BlobHash, MediaType, MAX_ATTACHMENT_BYTES,
};
pub use cadence::{Cadence, CadenceUnit};
pub use event::Event;
pub use interaction::{FollowUp, Interaction};
pub use kinds::{
    Channel, DocKind, InteractionKind, MeetingPromptState, ReferralStatus, ThankYou, ThankYouState,
};
pub use meeting::{Attendee, Meeting, MeetingPrompt};
pub use person::{Person, PostalAddress, RelatedName};
pub use referral::Referral;
pub use vocab::{
    AttachmentId, CalendarUid, Day, EventId, InteractionId, MeetingId, PersonId, RecordId,
    ReferralId,
};

/// Any one record, as the read model is written from it.
#[derive(Debug, Clone)]
pub enum Record {
    Person(Person),
    Interaction(Interaction),
    Event(Event),
    Meeting(Meeting),
}

impl From<Person> for Record {
    fn from(p: Person) -> Self {
        Record::Person(p)
    }
}

impl From<Interaction> for Record {
    fn from(i: Interaction) -> Self {
        Record::Interaction(i)
    }
}

impl From<Event> for Record {
    fn from(e: Event) -> Self {
        Record::Event(e)
    }
}

impl From<Meeting> for Record {
    fn from(m: Meeting) -> Self {
        Record::Meeting(m)
    }
}
