//! Importing a calendar: each occurrence within the window becomes a [`Meeting`]
//! under an id worked out from its calendar uid and occurrence, so importing again
//! (here or on another device) updates it instead of adding it twice. Attendees are
//! matched to people by email; those nobody has are listed as people to add, never
//! added without asking.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calendar_read::{read_calendar, CalendarWindow, MeetingOccurrence};
use super::matching::{backfill_keys, people_with_key, KeyKind};
use super::report::{Outcome, Skipped};
use crate::model::{DocKind, Meeting, MeetingId, MeetingPrompt, PersonId};
use crate::queries::{Guest, PersonName};
use crate::{Error, Result, Store, Writer};

/// How to import a calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarImportOptions {
    /// Work everything out and report it, but write nothing.
    pub dry_run: bool,
    /// The user's own addresses, to tell them from the other attendees.
    pub owner: Vec<String>,
}

/// One meeting an import wrote (or would write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedMeeting {
    /// Line of the event's `BEGIN:VEVENT`.
    pub line: usize,
    pub id: MeetingId,
    pub start: DateTime<Utc>,
    pub summary: String,
    pub outcome: Outcome,
}

/// Someone invited to the imported meetings, and who they are among the user's
/// people (`guest.person` is `None` for a person to add).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingGuest {
    pub guest: Guest,
    /// How many of the imported meetings they are invited to.
    pub meetings: usize,
}

/// What a calendar import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarImportReport {
    pub dry_run: bool,
    pub meetings: Vec<ImportedMeeting>,
    /// Everyone invited but the user, by address: the people they are, or people to add.
    pub guests: Vec<MeetingGuest>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

impl CalendarImportReport {
    fn count(&self, outcome: Outcome) -> usize {
        self.meetings
            .iter()
            .filter(|m| m.outcome == outcome)
            .count()
    }

    /// The guests nobody among the user's people has the address of.
    pub fn new_people(&self) -> impl Iterator<Item = &MeetingGuest> {
        self.guests.iter().filter(|g| g.guest.person.is_none())
    }

    /// One line saying what happened, for a status bar or a terminal.
    pub fn summary(&self) -> String {
        format!(
            "{}{} meetings added, {} updated, {} unchanged; {} guests known, {} new; {} skipped",
            if self.dry_run {
                "dry run (nothing written): "
            } else {
                ""
            },
            self.count(Outcome::Added),
            self.count(Outcome::Updated),
            self.count(Outcome::Unchanged),
            self.guests.len() - self.new_people().count(),
            self.new_people().count(),
            self.skipped.len(),
        )
    }
}

impl Store {
    /// Imports the meetings of an `.ics` file within [`CalendarWindow::for_import`]
    /// of the store's clock, as one write.
    pub fn import_calendar(
        &mut self,
        bytes: &[u8],
        options: &CalendarImportOptions,
    ) -> Result<CalendarImportReport> {
        let _span = tracing::debug_span!("import_calendar", bytes = bytes.len()).entered();
        let window = CalendarWindow::for_import(self.now());
        let read = read_calendar(bytes, window, &options.owner);
        let mut report = CalendarImportReport {
            dry_run: options.dry_run,
            skipped: read.skipped,
            notes: read.notes,
            ..Default::default()
        };
        let outcome = self.write(|w| {
            backfill_keys(w.tx())?;
            for occurrence in &read.occurrences {
                report.meetings.push(import_one(w, occurrence)?);
            }
            report.guests = guests(w, &read.occurrences)?;
            if options.dry_run {
                return Err(Error::invalid("a dry run writes nothing"));
            }
            Ok(())
        });
        match outcome {
            Err(_) if options.dry_run && report.meetings.len() == read.occurrences.len() => {}
            other => other?,
        }
        tracing::debug!(summary = %report.summary(), "imported");
        Ok(report)
    }
}

fn import_one(w: &mut Writer<'_>, o: &MeetingOccurrence) -> Result<ImportedMeeting> {
    let recurrence_id = o.recurrence_id.map(|r| r.timestamp_millis());
    let id = MeetingId::for_occurrence(&o.uid, recurrence_id);
    let fresh = Meeting {
        calendar_uid: o.uid.clone(),
        recurrence_id,
        start: o.start.timestamp_millis(),
        end: o.end.timestamp_millis(),
        all_day: o.all_day,
        summary: o.summary.clone(),
        location: o.location.clone(),
        link: o.link.clone(),
        organiser: o.organiser.clone(),
        attendees: o.attendees.clone(),
        cancelled: o.cancelled,
        prompt: MeetingPrompt::Asked,
        created_at: w.now().timestamp_millis(),
        deleted: false,
    };
    let outcome = if w.exists(id.as_str())? {
        // The calendar's facts are updated; the answer to the prompt and a delete stay.
        let changed = w.update(id.as_str(), DocKind::Meeting, |m: &mut Meeting| {
            let before = format!("{m:?}");
            *m = Meeting {
                prompt: m.prompt.clone(),
                created_at: m.created_at,
                deleted: m.deleted,
                ..fresh.clone()
            };
            Ok(format!("{m:?}") != before)
        })?;
        if changed {
            Outcome::Updated
        } else {
            Outcome::Unchanged
        }
    } else {
        w.create_as(id.as_str(), DocKind::Meeting, &fresh)?;
        Outcome::Added
    };
    Ok(ImportedMeeting {
        line: o.line,
        id,
        start: o.start,
        summary: o.summary.clone(),
        outcome,
    })
}

/// Everyone invited but the user, with the person who has their address.
fn guests(w: &Writer<'_>, occurrences: &[MeetingOccurrence]) -> Result<Vec<MeetingGuest>> {
    let mut by_email: BTreeMap<&str, MeetingGuest> = BTreeMap::new();
    for o in occurrences {
        let invited = o.organiser.iter().chain(&o.attendees);
        let mut seen = Vec::new();
        for a in invited.filter(|a| !a.is_owner) {
            if seen.contains(&a.email.as_str()) {
                continue;
            }
            seen.push(a.email.as_str());
            let invited = by_email.entry(&a.email).or_insert_with(|| MeetingGuest {
                guest: Guest {
                    email: a.email.clone(),
                    name: None,
                    person: None,
                },
                meetings: 0,
            });
            invited.meetings += 1;
            if invited.guest.name.is_none() {
                invited.guest.name.clone_from(&a.name);
            }
        }
    }
    let mut out: Vec<MeetingGuest> = by_email.into_values().collect();
    for MeetingGuest { guest, .. } in &mut out {
        guest.person = match people_with_key(w.tx(), KeyKind::Email, &guest.email)?
            .into_iter()
            .next()
        {
            Some(id) => Some(PersonName {
                name: crate::commands::lookup::person_name(w.tx(), &id)?,
                id: PersonId::from(id),
            }),
            None => None,
        };
    }
    Ok(out)
}
