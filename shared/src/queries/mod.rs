//! Read-only questions the screens and the command line ask. They read the
//! read-model tables only; no Automerge document is loaded to answer them.

mod attachments;
mod counts;
mod diary;
mod duplicates;
mod events;
mod meetings;
mod people;
mod review;
mod rows;
mod today;

pub use attachments::{AttachmentContent, AttachmentRow};
pub use counts::RecordCounts;
pub use diary::Diary;
pub use duplicates::{DuplicateReason, DuplicateSuggestion};
pub use events::EventPage;
pub use meetings::{Guest, MeetingToAsk, MeetingsToAsk};
pub use people::PersonSummary;
pub use review::{
    CasualOnly, GoalProgress, Review, WeekCounts, MAX_VALUE_GOAL, VALUE_GOAL_SETTING,
};
pub use rows::{EventName, InteractionRow, PersonDetail, PersonName, ReferralRow};
pub use today::{FollowUpDue, KeepInTouchDue, ThankYouDue, Today, TodayCounts, TODAY_PAGE};
