//! Importing a `.vcf` file into the user's people: match, update or add, in batches
//! of whole cards, with progress.

use super::contact::Contact;
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

/// A file's cards read and mapped, before anything is written.
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

impl Store {
    /// Imports a `.vcf` file: each card updates the person it matches (uid, then
    /// email or phone, then exact name) or adds a new one. `progress` is called after
    /// every card with how many are done out of how many.
    pub fn import_vcards(
        &mut self,
        bytes: &[u8],
        options: ImportOptions,
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let _span = tracing::debug_span!("import_vcards", bytes = bytes.len()).entered();
        let parsed = parse_vcards(bytes);
        let total = parsed.contacts.len() + parsed.skipped.iter().filter(|s| s.whole_card).count();
        let mut report = ImportReport {
            dry_run: options.dry_run,
            skipped: parsed.skipped,
            notes: parsed.notes,
            cards: Vec::with_capacity(parsed.contacts.len()),
        };
        let mut done = total - parsed.contacts.len();
        progress(ImportProgress { done, total });
        if options.dry_run {
            // One transaction, rolled back: the report is exactly what a real import
            // would do, cards matching earlier cards of the same file included.
            let mut finished = false;
            let outcome = self.write(|w| {
                backfill_keys(w.tx())?;
                for contact in &parsed.contacts {
                    report.cards.push(import_one(w, contact)?);
                    done += 1;
                    progress(ImportProgress { done, total });
                }
                finished = true;
                Err::<(), _>(Error::invalid("a dry run writes nothing"))
            });
            return match outcome {
                Err(_) if finished => Ok(report),
                Err(e) => Err(e),
                Ok(()) => Ok(report),
            };
        }
        for (i, batch) in parsed.contacts.chunks(BATCH).enumerate() {
            let cards = self.write(|w| {
                if i == 0 {
                    backfill_keys(w.tx())?;
                }
                batch
                    .iter()
                    .map(|c| import_one(w, c))
                    .collect::<Result<Vec<_>>>()
            })?;
            for card in cards {
                report.cards.push(card);
                done += 1;
                progress(ImportProgress { done, total });
            }
        }
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
        person_id,
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
