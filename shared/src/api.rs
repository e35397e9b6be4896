//! The API as data: every command and query the screens and the command line use,
//! as a [`Request`] value with its typed [`Reply`]. [`Store::answer`] is the one
//! function that answers a request; [`encode`] and [`decode`] carry both across a
//! boundary (a thread, a worker) in a compact encoding (CBOR).

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::commands::{
    CaptureDraft, Captured, InteractionEdit, Merged, PersonEdit, ReferralAdvanced,
};
use crate::interop::{
    CalendarImportReport, ImportOptions, ImportProgress, ImportReport, MarkdownLayout, VcardImport,
    VcardVersion,
};
use crate::model::{
    AttachmentId, AttachmentOwner, Day, EventId, InteractionId, MediaType, MeetingId,
    MeetingPrompt, PersonId, RecordId, ReferralId, ReferralStatus,
};
use crate::queries::{
    AttachmentContent, AttachmentRow, Diary, DuplicateSuggestion, EventName, EventPage,
    GoalProgress, MeetingsToAsk, PersonSummary, Review, Today,
};
use crate::{Error, Result, Store};

pub(crate) mod bytes;

/// Something the user asks of their data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Save a conversation.
    Capture(CaptureDraft),
    EditInteraction {
        id: InteractionId,
        edit: InteractionEdit,
    },
    EditPerson {
        id: PersonId,
        edit: PersonEdit,
    },
    /// One conversation's thank-you went out on `on`.
    ThankYouSent {
        id: InteractionId,
        on: Day,
    },
    /// Every thank-you owed to a person went out on `on`.
    PersonThanked {
        id: PersonId,
        on: Day,
    },
    FollowUpDone {
        id: InteractionId,
    },
    FollowUpMoved {
        id: InteractionId,
        to: Day,
    },
    ReferralStatus {
        id: ReferralId,
        status: ReferralStatus,
    },
    Delete {
        id: RecordId,
    },
    /// Merge `other` into `keep`: one person with both people's details and
    /// conversations; `other`'s id leads to `keep` from then on.
    MergePeople {
        keep: PersonId,
        other: PersonId,
    },
    /// Pairs of people who may be one person, at most `limit`.
    Duplicates {
        limit: usize,
    },
    /// The people who may be the same as this one.
    DuplicatesOf {
        person: PersonId,
    },
    Restore {
        id: RecordId,
    },
    /// Today on `day`, at most `limit` items in each list.
    Today {
        day: Day,
        limit: usize,
    },
    People {
        limit: usize,
    },
    /// People whose name begins like `typed` (the capture form's typeahead).
    PeopleNamedLike {
        typed: String,
        limit: usize,
    },
    /// People by any word of their records.
    SearchPeople {
        query: String,
        limit: usize,
    },
    Diary {
        person: PersonId,
    },
    /// The week holding `day`, weeks starting on Monday `offset_minutes` east of UTC.
    Review {
        day: Day,
        offset_minutes: i32,
    },
    Events {
        limit: usize,
    },
    EventPage {
        id: EventId,
    },
    /// Meetings that have ended and still wait for "how did it go?", at most `limit`.
    MeetingsToAsk {
        limit: usize,
    },
    /// The answer to a meeting's "how did it go?".
    AnswerMeeting {
        id: MeetingId,
        answer: MeetingPrompt,
    },
    /// This week's value calls against the weekly goal (weeks as in `Review`).
    GoalProgress {
        day: Day,
        offset_minutes: i32,
    },
    /// Sets the weekly value-call goal (`None`: no goal).
    SetValueGoal {
        per_week: Option<u32>,
    },
    /// A follow-up on `on` to book a value call with someone only chatted with.
    ScheduleValueCall {
        person: PersonId,
        on: Day,
    },
    /// A local setting of this device.
    Setting {
        key: String,
    },
    SetSetting {
        key: String,
        value: Option<String>,
    },
    /// One whole export as text.
    Export {
        export: Export,
    },
    /// Start importing a contacts file (`.vcf`): it is read, and nothing written yet.
    ImportContacts {
        #[serde(with = "bytes")]
        file: Vec<u8>,
        dry_run: bool,
    },
    /// Write the next batch of an import in progress.
    ImportNext {
        id: ImportId,
    },
    /// Import the meetings of a calendar file (`.ics`); `owner` lists the user's own
    /// addresses, to tell them from the guests.
    ImportCalendar {
        #[serde(with = "bytes")]
        file: Vec<u8>,
        owner: Vec<String>,
    },
    /// Keep a file on a person or a conversation.
    Attach {
        to: AttachmentOwner,
        name: String,
        media_type: MediaType,
        #[serde(with = "bytes")]
        content: Vec<u8>,
    },
    /// Keep pasted text (an email thread) as a text attachment.
    AttachText {
        to: AttachmentOwner,
        text: String,
    },
    /// A person's attachments (theirs and their conversations'), or a conversation's.
    Attachments {
        of: AttachmentOwner,
    },
    /// One attachment with its content; content not here yet is asked for.
    OpenAttachment {
        id: AttachmentId,
    },
    RemoveAttachment {
        id: AttachmentId,
    },
}

/// The exports the app offers, each a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Export {
    /// Everyone as vCards, for address books.
    Vcards(VcardVersion),
    /// One row per conversation, for spreadsheets.
    ConversationsCsv,
    /// A complete backup, for a restore.
    Backup,
    /// The whole diary as one Markdown file.
    DiaryMarkdown,
    /// Follow-ups and thank-yous to send, for calendars.
    Calendar,
}

impl Export {
    /// Every export, in the order the app lists them.
    pub const ALL: [Export; 5] = [
        Export::Vcards(VcardVersion::V4),
        Export::ConversationsCsv,
        Export::Backup,
        Export::DiaryMarkdown,
        Export::Calendar,
    ];
}

/// An import in progress, between its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImportId(pub u64);

/// How far an import got; its report once it is finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    pub id: ImportId,
    pub progress: ImportProgress,
    /// Set once every card is handled (the import is then forgotten).
    pub report: Option<ImportReport>,
}

/// The answer to a [`Request`].
// One reply is built per request and encoded at once: its size in memory matters little.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Captured(Captured),
    /// A command with nothing to tell but that it was done.
    Done,
    /// How many thank-yous were marked sent.
    Thanked(usize),
    ReferralAdvanced(ReferralAdvanced),
    Merged(Merged),
    Duplicates(Vec<DuplicateSuggestion>),
    Today(Today),
    People(Vec<PersonSummary>),
    Diary(Diary),
    Review(Review),
    Events(Vec<EventName>),
    EventPage(EventPage),
    Meetings(MeetingsToAsk),
    Setting(Option<String>),
    /// An export's text.
    Exported(String),
    Import(ImportState),
    CalendarImported(CalendarImportReport),
    /// The conversation a value call was scheduled on.
    Scheduled(InteractionId),
    GoalProgress(Option<GoalProgress>),
    Attached(AttachmentRow),
    Attachments(Vec<AttachmentRow>),
    AttachmentContent(AttachmentContent),
    Failed(Failure),
}

/// A reply's typed content: what a caller asking one kind of request expects back.
pub trait FromReply: Sized {
    /// The content, or the failure (a reply of another kind is a failure too).
    fn from_reply(reply: Reply) -> std::result::Result<Self, Failure>;
}

macro_rules! from_reply {
    ($($variant:ident => $ty:ty),* $(,)?) => {$(
        impl FromReply for $ty {
            fn from_reply(reply: Reply) -> std::result::Result<Self, Failure> {
                match reply {
                    Reply::$variant(value) => Ok(value),
                    other => Err(Failure::unexpected(&other)),
                }
            }
        }
    )*};
}

from_reply! {
    Captured => Captured,
    Thanked => usize,
    ReferralAdvanced => ReferralAdvanced,
    Merged => Merged,
    Duplicates => Vec<DuplicateSuggestion>,
    Today => Today,
    People => Vec<PersonSummary>,
    Diary => Diary,
    Review => Review,
    Events => Vec<EventName>,
    EventPage => EventPage,
    Meetings => MeetingsToAsk,
    Setting => Option<String>,
    Exported => String,
    Import => ImportState,
    CalendarImported => CalendarImportReport,
    Scheduled => InteractionId,
    GoalProgress => Option<GoalProgress>,
    Attached => AttachmentRow,
    Attachments => Vec<AttachmentRow>,
    AttachmentContent => AttachmentContent,
}

impl FromReply for () {
    fn from_reply(reply: Reply) -> std::result::Result<Self, Failure> {
        match reply {
            Reply::Done => Ok(()),
            other => Err(Failure::unexpected(&other)),
        }
    }
}

/// Why a request was not done, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// The kind of a [`Failure`], for a caller that reacts differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// The input cannot be used as given.
    Invalid,
    /// Nothing has that id or name.
    NotFound,
    /// Too large for one save; nothing was written.
    TooLarge,
    /// The store file is damaged.
    Damaged,
    /// The store can be read but not written.
    ReadOnly,
    /// Anything else the store or a document reported.
    Store,
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Self {
        let kind = match e {
            Error::Invalid(_) | Error::Decode(_) => FailureKind::Invalid,
            Error::NotFound(_) => FailureKind::NotFound,
            Error::TooLarge(_) => FailureKind::TooLarge,
            e if e.is_damaged() => FailureKind::Damaged,
            e if e.is_read_only() => FailureKind::ReadOnly,
            Error::Store(_) | Error::Document(_) => FailureKind::Store,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// A reply that is not the kind asked for (or the failure it carries).
    fn unexpected(reply: &Reply) -> Failure {
        match reply {
            Reply::Failed(f) => f.clone(),
            other => Failure {
                kind: FailureKind::Store,
                message: format!("an unexpected answer: {other:?}"),
            },
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Request {
    /// The request's kind, for logs and spans.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Capture(_) => "capture",
            Request::EditInteraction { .. } => "edit_interaction",
            Request::EditPerson { .. } => "edit_person",
            Request::ThankYouSent { .. } => "thank_you_sent",
            Request::PersonThanked { .. } => "person_thanked",
            Request::FollowUpDone { .. } => "follow_up_done",
            Request::FollowUpMoved { .. } => "follow_up_moved",
            Request::ReferralStatus { .. } => "referral_status",
            Request::Delete { .. } => "delete",
            Request::MergePeople { .. } => "merge_people",
            Request::Duplicates { .. } => "duplicates",
            Request::DuplicatesOf { .. } => "duplicates_of",
            Request::Restore { .. } => "restore",
            Request::Today { .. } => "today",
            Request::People { .. } => "people",
            Request::PeopleNamedLike { .. } => "people_named_like",
            Request::SearchPeople { .. } => "search_people",
            Request::Diary { .. } => "diary",
            Request::Review { .. } => "review",
            Request::Events { .. } => "events",
            Request::EventPage { .. } => "event_page",
            Request::MeetingsToAsk { .. } => "meetings_to_ask",
            Request::AnswerMeeting { .. } => "answer_meeting",
            Request::GoalProgress { .. } => "goal_progress",
            Request::SetValueGoal { .. } => "set_value_goal",
            Request::ScheduleValueCall { .. } => "schedule_value_call",
            Request::Setting { .. } => "setting",
            Request::SetSetting { .. } => "set_setting",
            Request::Export { .. } => "export",
            Request::ImportContacts { .. } => "import_contacts",
            Request::ImportNext { .. } => "import_next",
            Request::ImportCalendar { .. } => "import_calendar",
            Request::Attach { .. } => "attach",
            Request::AttachText { .. } => "attach_text",
            Request::Attachments { .. } => "attachments",
            Request::OpenAttachment { .. } => "open_attachment",
            Request::RemoveAttachment { .. } => "remove_attachment",
        }
    }

    /// Whether answering it may change data (views re-query after one).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Request::Today { .. }
                | Request::People { .. }
                | Request::Duplicates { .. }
                | Request::DuplicatesOf { .. }
                | Request::PeopleNamedLike { .. }
                | Request::SearchPeople { .. }
                | Request::Diary { .. }
                | Request::Review { .. }
                | Request::GoalProgress { .. }
                | Request::Events { .. }
                | Request::EventPage { .. }
                | Request::MeetingsToAsk { .. }
                | Request::Setting { .. }
                | Request::Export { .. }
                | Request::Attachments { .. }
                // Opening may note that content is wanted, which no view shows.
                | Request::OpenAttachment { .. }
        )
    }
}

/// A time zone given as minutes east of UTC.
fn utc_offset(minutes: i32) -> Result<FixedOffset> {
    FixedOffset::east_opt(minutes.saturating_mul(60))
        .ok_or_else(|| Error::invalid("that time zone offset is not on Earth"))
}

/// A store with the work it carries between requests (imports in progress): what a
/// backend holds to answer every request.
#[derive(Debug)]
pub struct Service {
    pub store: Store,
    imports: BTreeMap<ImportId, VcardImport>,
    next_import: u64,
}

impl Service {
    pub fn new(store: Store) -> Service {
        Service {
            store,
            imports: BTreeMap::new(),
            next_import: 1,
        }
    }

    /// Answers one request. A failure is a [`Reply::Failed`], never a panic.
    pub fn answer(&mut self, request: &Request) -> Reply {
        match request {
            Request::ImportContacts { file, dry_run } => {
                let id = ImportId(self.next_import);
                self.next_import += 1;
                let import = VcardImport::new(file, ImportOptions { dry_run: *dry_run });
                // The file is read; the batches are written by `ImportNext`, so the
                // caller can show how many cards there are before the first one.
                let state = ImportState {
                    id,
                    progress: import.progress(),
                    report: None,
                };
                self.imports.insert(id, import);
                Reply::Import(state)
            }
            Request::ImportNext { id } => self.import_next(*id),
            other => self.store.answer(other),
        }
    }

    fn import_next(&mut self, id: ImportId) -> Reply {
        let Some(import) = self.imports.get_mut(&id) else {
            return Reply::Failed(Failure {
                kind: FailureKind::NotFound,
                message: "that import is not in progress any more: import the file again".into(),
            });
        };
        if !import.is_finished() {
            if let Err(e) = import.step(&mut self.store, &mut |_| {}) {
                // Batches written so far stay; importing the file again finishes it.
                self.imports.remove(&id);
                return Reply::Failed(Failure::from(&e));
            }
        }
        let progress = import.progress();
        let report = if import.is_finished() {
            self.imports.remove(&id).map(VcardImport::into_report)
        } else {
            None
        };
        Reply::Import(ImportState {
            id,
            progress,
            report,
        })
    }
}

impl Store {
    /// Answers one request that needs nothing but the store (an import in progress
    /// needs a [`Service`]). A failure is a [`Reply::Failed`], never a panic.
    pub fn answer(&mut self, request: &Request) -> Reply {
        self.try_answer(request)
            .unwrap_or_else(|e| Reply::Failed(Failure::from(&e)))
    }

    fn try_answer(&mut self, request: &Request) -> Result<Reply> {
        Ok(match request {
            Request::Capture(draft) => Reply::Captured(self.capture(draft)?),
            Request::EditInteraction { id, edit } => {
                self.edit_interaction(id, edit)?;
                Reply::Done
            }
            Request::EditPerson { id, edit } => {
                self.edit_person(id, edit)?;
                Reply::Done
            }
            Request::ThankYouSent { id, on } => {
                self.mark_thank_you_sent(id, *on)?;
                Reply::Done
            }
            Request::PersonThanked { id, on } => Reply::Thanked(self.mark_person_thanked(id, *on)?),
            Request::FollowUpDone { id } => {
                self.complete_follow_up(id)?;
                Reply::Done
            }
            Request::FollowUpMoved { id, to } => {
                self.move_follow_up(id, *to)?;
                Reply::Done
            }
            Request::ReferralStatus { id, status } => {
                Reply::ReferralAdvanced(self.set_referral_status(id, *status)?)
            }
            Request::Delete { id } => {
                self.delete(id)?;
                Reply::Done
            }
            Request::Restore { id } => {
                self.restore(id)?;
                Reply::Done
            }
            Request::MergePeople { keep, other } => Reply::Merged(self.merge_people(keep, other)?),
            Request::Duplicates { limit } => Reply::Duplicates(self.duplicates(*limit)?),
            Request::DuplicatesOf { person } => Reply::Duplicates(self.duplicates_of(person)?),
            Request::Today { day, limit } => Reply::Today(self.today_showing(*day, *limit)?),
            Request::People { limit } => Reply::People(self.people(*limit)?),
            Request::PeopleNamedLike { typed, limit } => {
                Reply::People(self.people_named_like(typed, *limit)?)
            }
            Request::SearchPeople { query, limit } => {
                Reply::People(self.search_people(query, *limit)?)
            }
            Request::Diary { person } => Reply::Diary(self.diary(person)?),
            Request::Review {
                day,
                offset_minutes,
            } => Reply::Review(self.review(*day, utc_offset(*offset_minutes)?)?),
            Request::GoalProgress {
                day,
                offset_minutes,
            } => Reply::GoalProgress(self.goal_progress(*day, utc_offset(*offset_minutes)?)?),
            Request::Events { limit } => Reply::Events(self.events(*limit)?),
            Request::EventPage { id } => Reply::EventPage(self.event_page(id)?),
            Request::MeetingsToAsk { limit } => Reply::Meetings(self.meetings_to_ask(*limit)?),
            Request::AnswerMeeting { id, answer } => {
                self.answer_meeting(id, answer)?;
                Reply::Done
            }
            Request::SetValueGoal { per_week } => {
                self.set_value_goal(*per_week)?;
                Reply::Done
            }
            Request::ScheduleValueCall { person, on } => {
                Reply::Scheduled(self.schedule_value_call(person, *on)?)
            }
            Request::Setting { key } => Reply::Setting(self.setting(key)?),
            Request::SetSetting { key, value } => {
                self.set_setting(key, value.as_deref())?;
                Reply::Done
            }
            Request::Export { export } => Reply::Exported(self.export(*export)?),
            Request::ImportCalendar { file, owner } => {
                let options = crate::interop::CalendarImportOptions {
                    dry_run: false,
                    owner: owner.clone(),
                };
                Reply::CalendarImported(self.import_calendar(file, &options)?)
            }
            Request::Attach {
                to,
                name,
                media_type,
                content,
            } => Reply::Attached(self.attach(to, name, media_type, content)?),
            Request::AttachText { to, text } => Reply::Attached(self.attach_text(to, text)?),
            Request::Attachments { of } => Reply::Attachments(match of {
                AttachmentOwner::Person(p) => self.person_attachments(p)?,
                AttachmentOwner::Conversation(i) => self.conversation_attachments(i)?,
            }),
            Request::OpenAttachment { id } => Reply::AttachmentContent(self.open_attachment(id)?),
            Request::RemoveAttachment { id } => {
                self.remove_attachment(id)?;
                Reply::Done
            }
            Request::ImportContacts { .. } | Request::ImportNext { .. } => {
                return Err(Error::invalid(
                    "an import is answered by the service that keeps it between batches",
                ))
            }
        })
    }

    /// One whole export as text.
    pub fn export(&self, export: Export) -> Result<String> {
        Ok(match export {
            Export::Vcards(version) => self.export_vcards(None, version)?,
            Export::ConversationsCsv => self.export_interactions_csv()?,
            Export::Backup => self.backup()?.to_json(),
            Export::DiaryMarkdown => self
                .export_diary_markdown(MarkdownLayout::OneFile)?
                .into_iter()
                .map(|f| f.text)
                .collect::<Vec<_>>()
                .join("\n"),
            Export::Calendar => self.export_calendar()?,
        })
    }
}

/// A request or reply as bytes.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every API type serializes.
    ciborium::into_writer(value, &mut out).unwrap_or_else(|e| {
        unreachable!("an API value always encodes: {e}");
    });
    out
}

/// Bytes back into a request or reply; bytes that are not one give an error.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| Error::Decode(format!("an API message: {e}")))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
