//! Importing contacts (a `.vcf` file, or a LinkedIn or Google Contacts CSV export)
//! into the user's people: match, update or add, in batches of whole cards (or
//! rows), with progress. A batch that fails leaves the batches before it
//! in place; importing the file again finishes the job without doubling anyone.

use super::contact::Contact;
use super::contacts_csv::parse_contacts_csv;
use super::file_kind::FileKind;
use super::matching::{backfill_keys, find_match};
use super::report::{ImportProgress, ImportReport, ImportedCard, Outcome, Skipped};
use super::vcard_file::split_cards;
use super::vcard_read::read_card;
use super::vcard_write::OWN_UID_PREFIX;
use crate::model::{DocKind, Person};
use crate::{Error, Result, Store, Writer};
use rusqlite::OptionalExtension;

/// Cards written per transaction: each batch is one durable write and one own-log
/// entry, small enough to sync, and no card is ever half written.
const BATCH: usize = 250;

/// How to import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Work everything out and report it, but write nothing.
    pub dry_run: bool,
}

/// A file's cards (or a spreadsheet's rows) read and mapped, before anything is written.
#[derive(Debug, Default)]
pub struct ParsedVcards {
    pub contacts: Vec<Contact>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

/// Reads every card of a `.vcf` file (any vCard version, any of the common
/// encodings). Broken cards and lines are listed in `skipped`, never fatal.
pub fn parse_vcards(bytes: &[u8]) -> ParsedVcards {
    let split = split_cards(bytes);
    let mut out = ParsedVcards {
        skipped: split.skipped,
        ..Default::default()
    };
    for card in &split.cards {
        match read_card(card, &mut out.notes) {
            Ok(contact) => out.contacts.push(contact),
            Err(reason) => out.skipped.push(Skipped::card(card.line, reason)),
        }
    }
    out.skipped.sort_by_key(|s| s.line);
    out
}

/// Reads every contact of a contacts file: vCards, or a LinkedIn or Google
/// Contacts CSV export, told apart by what the file holds.
pub fn parse_contacts(bytes: &[u8]) -> ParsedVcards {
    match FileKind::of(bytes) {
        FileKind::Csv => parse_contacts_csv(bytes),
        _ => parse_vcards(bytes),
    }
}

/// An import under way: the file read, its cards written a batch at a time, so
/// that a screen can show progress between batches.
#[derive(Debug)]
pub struct VcardImport {
    contacts: Vec<Contact>,
    /// Cards written (or worked out, in a dry run) so far.
    written: usize,
    /// Cards in the file, skipped whole ones included.
    total: usize,
    report: ImportReport,
}

impl VcardImport {
    /// Reads a contacts file's cards or rows ([`parse_contacts`]); nothing is
    /// written yet.
    pub fn new(bytes: &[u8], options: ImportOptions) -> VcardImport {
        let parsed = parse_contacts(bytes);
        let total = parsed.contacts.len() + parsed.skipped.iter().filter(|s| s.whole_card).count();
        VcardImport {
            report: ImportReport {
                dry_run: options.dry_run,
                skipped: parsed.skipped,
                notes: parsed.notes,
                cards: Vec::with_capacity(parsed.contacts.len()),
            },
            contacts: parsed.contacts,
            written: 0,
            total,
        }
    }

    /// How many cards are done out of how many (skipped ones count as done).
    pub fn progress(&self) -> ImportProgress {
        ImportProgress {
            done: self.total - self.contacts.len() + self.written,
            total: self.total,
        }
    }

    /// Whether every card has been written.
    pub fn is_finished(&self) -> bool {
        self.written == self.contacts.len()
    }

    /// Writes the next batch of cards as one durable write. A dry run works out
    /// every card in one transaction that is then rolled back: the report is exactly
    /// what a real import would do, cards matching earlier cards of the file included.
    pub fn step(
        &mut self,
        store: &mut Store,
        progress: &mut impl FnMut(ImportProgress),
    ) -> Result<()> {
        let first = self.written == 0;
        let end = if self.report.dry_run {
            self.contacts.len()
        } else {
            (self.written + BATCH).min(self.contacts.len())
        };
        let mut cards = Vec::with_capacity(end - self.written);
        let outcome = store.write(|w| {
            if first {
                backfill_keys(w.tx())?;
            }
            for contact in &self.contacts[self.written..end] {
                cards.push(import_one(w, contact)?);
                if self.report.dry_run {
                    progress(ImportProgress {
                        done: self.total - self.contacts.len() + cards.len(),
                        total: self.total,
                    });
                }
            }
            if self.report.dry_run {
                return Err(Error::invalid("a dry run writes nothing"));
            }
            Ok(())
        });
        match outcome {
            Ok(()) => {}
            Err(_) if self.report.dry_run && cards.len() == end - self.written => {}
            Err(e) => return Err(e),
        }
        for card in cards {
            self.report.cards.push(card);
            self.written += 1;
            if !self.report.dry_run {
                progress(self.progress());
            }
        }
        Ok(())
    }

    /// What the import did.
    pub fn into_report(self) -> ImportReport {
        self.report
    }
}

impl Store {
    /// Imports a contacts file (vCards, or a LinkedIn or Google CSV): each card updates the person it matches (its uid, or
    /// a shared email, phone or exact name weighed against the names and uids; see
    /// `matching`) or adds a new one. `progress` is called after
    /// every card with how many are done out of how many.
    pub fn import_vcards(
        &mut self,
        bytes: &[u8],
        options: ImportOptions,
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let _span = tracing::debug_span!("import_vcards", bytes = bytes.len()).entered();
        let mut import = VcardImport::new(bytes, options);
        progress(import.progress());
        while !import.is_finished() {
            import.step(self, &mut progress)?;
        }
        let report = import.into_report();
        tracing::debug!(summary = %report.summary(), "imported");
        Ok(report)
    }
}

fn import_one(w: &mut Writer<'_>, contact: &Contact) -> Result<ImportedCard> {
    // A card Aftercall wrote names the person by record id rather than a uid.
    let own_id = contact.uid.strip_prefix(OWN_UID_PREFIX).map(str::to_string);
    let own;
    let contact = match &own_id {
        Some(_) => {
            own = Contact {
                uid: String::new(),
                ..contact.clone()
            };
            &own
        }
        None => contact,
    };
    let live: Option<String> = match &own_id {
        Some(id) => w
            .tx()
            .query_row(
                "SELECT id FROM people WHERE id = ?1 AND deleted = 0",
                [id],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    let found = match live {
        Some(id) => Some(id),
        None => find_match(
            w.tx(),
            &contact.uid,
            &contact.urls,
            &contact.emails,
            &contact.phones,
            &contact.name,
        )?,
    };
    let (person_id, outcome) = match found {
        None => {
            let person = contact.to_person(w.now().timestamp_millis());
            (w.create(DocKind::Person, &person)?, Outcome::Added)
        }
        Some(id) => {
            let changed = w.update(&id, DocKind::Person, |p: &mut Person| {
                let before = fingerprint(p);
                contact.merge_into(p);
                Ok(fingerprint(p) != before)
            })?;
            let outcome = if changed {
                Outcome::Updated
            } else {
                Outcome::Unchanged
            };
            (id, outcome)
        }
    };
    Ok(ImportedCard {
        line: contact.line,
        person_id: person_id.into(),
        name: contact.name.clone(),
        outcome,
    })
}

/// Every field an import can change, to tell whether it changed any.
fn fingerprint(p: &Person) -> String {
    format!(
        "{:?}",
        (
            (&p.name, &p.name_parts, &p.organisation, &p.role),
            (&p.emails, &p.phones, &p.labels, &p.addresses),
            (&p.birthday, p.notes.as_str(), &p.urls, &p.related),
            (&p.photo, &p.uid, &p.tags, &p.vcard_extra),
        )
    )
}
