//! Getting contacts in and notes out: vCard import from phones and address books,
//! CSV import of LinkedIn connections and Google Contacts;
//! vCard, calendar (`.ics`), CSV, Markdown and JSON backup out; restore from a backup.
//!
//! - [`parse_contacts`] and [`Store::import_vcards`]: a `.vcf` file or a contacts
//!   CSV in, matched against the user's people, with an [`ImportReport`] and progress.
//! - [`Store::export_vcards`]: people out as vCard 4.0 or 3.0.
//! - [`Store::export_calendar`]: follow-ups and thank-yous to send as calendar events.
//! - [`Store::export_interactions_csv`]: one spreadsheet row per conversation.
//! - [`Store::export_diary_markdown`]: the diary, one file per person or one for all.
//! - [`Store::backup`] and [`Store::restore_backup`]: everything as JSON, and back
//!   into an empty store.
//!
//! [`Store::import_vcards`]: crate::Store::import_vcards
//! [`Store::export_vcards`]: crate::Store::export_vcards
//! [`Store::export_calendar`]: crate::Store::export_calendar
//! [`Store::export_interactions_csv`]: crate::Store::export_interactions_csv
//! [`Store::export_diary_markdown`]: crate::Store::export_diary_markdown
//! [`Store::backup`]: crate::Store::backup
//! [`Store::restore_backup`]: crate::Store::restore_backup
//!
//! Parsing vCards is the `calcard` library's job; this module holds the mapping
//! and the quirks of real exporters that the library leaves to its callers.

mod backup;
mod calendar;
mod calendar_file;
mod calendar_import;
mod calendar_read;
mod contact;
mod contacts_csv;
mod file_kind;
mod import;
mod markdown;
pub(crate) mod matching;
mod name_likeness;
mod people_docs;
mod report;
mod spreadsheet;
mod vcard_charset;
mod vcard_file;
mod vcard_read;
mod vcard_write;

pub use backup::{Backup, BackupBlob, BackupDocument, BACKUP_FORMAT};
pub use calendar::CALENDAR_PRODID;
pub use calendar_import::{
    CalendarImportOptions, CalendarImportReport, ImportedMeeting, MeetingGuest,
};
pub use calendar_read::{read_calendar, CalendarWindow, MeetingOccurrence, ParsedCalendar};
pub use contact::Contact;
pub use file_kind::FileKind;
pub use import::{parse_contacts, parse_vcards, ImportOptions, ParsedVcards, VcardImport};
pub use markdown::{attachment_path, DiaryFile, MarkdownLayout};
pub(crate) use matching::match_keys;
pub use matching::{normalise_email, normalise_phone};
pub use report::{ImportProgress, ImportReport, ImportedCard, Outcome, Skipped};
pub use spreadsheet::CSV_COLUMNS;
pub use vcard_read::MAX_PHOTO_BYTES;
pub use vcard_write::VcardVersion;

#[cfg(test)]
mod calendar_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod contacts_csv_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
