//! A person the user has met or been referred to.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use super::Cadence;
use super::{Attachment, AttachmentId};

/// One Person document.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Person {
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub organisation: String,
    #[autosurgeon(missing = "Default::default")]
    pub role: String,
    #[autosurgeon(missing = "Default::default")]
    pub emails: Vec<String>,
    #[autosurgeon(missing = "Default::default")]
    pub phones: Vec<String>,
    /// Free text; filled from the event when the person was met at one.
    #[autosurgeon(missing = "Default::default")]
    pub how_met: Text,
    /// Id of the Person who introduced us.
    #[autosurgeon(missing = "Default::default")]
    pub introduced_by: Option<String>,
    /// Id of the Event where we met.
    #[autosurgeon(missing = "Default::default")]
    pub event: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub tags: Vec<String>,
    #[autosurgeon(missing = "Default::default")]
    pub notes: Text,
    /// Milliseconds since the epoch.
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
    /// The parts of the name as an address book keeps them: family, given,
    /// additional, prefixes, suffixes (empty when only the full name is known).
    #[autosurgeon(missing = "Default::default")]
    pub name_parts: Vec<String>,
    /// Labels of emails, phones and web addresses ("work", "cell", "blog"), keyed by
    /// the email, phone or address as written.
    #[autosurgeon(missing = "Default::default")]
    pub labels: BTreeMap<String, String>,
    #[autosurgeon(missing = "Default::default")]
    pub addresses: Vec<PostalAddress>,
    /// `YYYY-MM-DD`, or `--MM-DD` when the year is not known.
    #[autosurgeon(missing = "Default::default")]
    pub birthday: String,
    /// Web addresses: site, blog, profiles.
    #[autosurgeon(missing = "Default::default")]
    pub urls: Vec<String>,
    /// People they are related to, by name: spouse, assistant, manager.
    #[autosurgeon(missing = "Default::default")]
    pub related: Vec<RelatedName>,
    /// A small photo as a `data:` URI, or the address of one.
    #[autosurgeon(missing = "Default::default")]
    pub photo: String,
    /// The contact's id in the address book it came from, matched on re-import.
    #[autosurgeon(missing = "Default::default")]
    pub uid: String,
    /// Address-book lines Aftercall does not read, kept to give back on export.
    #[autosurgeon(missing = "Default::default")]
    pub vcard_extra: Vec<String>,
    /// How often to keep in touch; `None`: no reminder.
    #[autosurgeon(missing = "Default::default")]
    pub cadence: Option<Cadence>,
    /// When the cadence was set, milliseconds since the epoch: the clock starts then
    /// for someone never talked to (otherwise at the last conversation).
    #[autosurgeon(missing = "Default::default")]
    pub cadence_since: i64,
    /// Set when this person was merged into another: the id of the person kept. The
    /// record stays as a redirect, so conversations that name it (written on a device
    /// that had not heard of the merge) show under the person kept.
    #[autosurgeon(missing = "Default::default")]
    pub merged_into: Option<String>,
    /// Attachment id → the attachment's reference (its bytes are a local blob).
    #[autosurgeon(missing = "Default::default")]
    pub attachments: BTreeMap<AttachmentId, Attachment>,
}

impl Person {
    /// Folds `other` (a duplicate of this person) into this one: what this person
    /// lacks is taken from `other`, lists gain what they lack, notes and how we met
    /// are kept from both. Folding the same person twice changes nothing.
    pub(crate) fn absorb(&mut self, other: &Person) {
        for (mine, theirs) in [
            (&mut self.organisation, &other.organisation),
            (&mut self.role, &other.role),
            (&mut self.birthday, &other.birthday),
            (&mut self.photo, &other.photo),
            (&mut self.uid, &other.uid),
        ] {
            if mine.trim().is_empty() && !theirs.trim().is_empty() {
                *mine = theirs.clone();
            }
        }
        if self.name_parts.iter().all(|p| p.is_empty()) && !other.name_parts.is_empty() {
            self.name_parts = other.name_parts.clone();
        }
        if self.introduced_by.is_none() {
            self.introduced_by = other.introduced_by.clone();
        }
        if self.event.is_none() {
            self.event = other.event.clone();
        }
        if self.cadence.is_none() && other.cadence.is_some() {
            self.cadence = other.cadence;
            self.cadence_since = other.cadence_since;
        }
        add_missing(&mut self.emails, &other.emails, |e| {
            crate::interop::normalise_email(e)
        });
        add_missing(&mut self.phones, &other.phones, |t| {
            crate::interop::normalise_phone(t).unwrap_or_else(|| t.trim().to_string())
        });
        add_missing(&mut self.urls, &other.urls, |u| u.trim().to_string());
        add_missing(&mut self.tags, &other.tags, |t| t.trim().to_lowercase());
        add_missing(&mut self.vcard_extra, &other.vcard_extra, Clone::clone);
        add_missing(&mut self.related, &other.related, |r| r.name.to_lowercase());
        add_missing(&mut self.addresses, &other.addresses, PostalAddress::place);
        for (key, label) in &other.labels {
            self.labels
                .entry(key.clone())
                .or_insert_with(|| label.clone());
        }
        for (mine, theirs) in [
            (&mut self.notes, &other.notes),
            (&mut self.how_met, &other.how_met),
        ] {
            let theirs = theirs.as_str().trim();
            if !theirs.is_empty() && !mine.as_str().contains(theirs) {
                let joined = if mine.as_str().trim().is_empty() {
                    theirs.to_string()
                } else {
                    format!("{}\n\n{theirs}", mine.as_str().trim_end())
                };
                mine.update(joined);
            }
        }
    }
}

/// Adds to `list` the items of `more` whose key it does not hold yet.
pub(crate) fn add_missing<T: Clone, K: PartialEq>(
    list: &mut Vec<T>,
    more: &[T],
    key: impl Fn(&T) -> K,
) {
    for item in more {
        let k = key(item);
        if !list.iter().any(|known| key(known) == k) {
            list.push(item.clone());
        }
    }
}

/// A postal address, in the order of a vCard `ADR`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate)]
pub struct PostalAddress {
    /// "home", "work" or the address book's own label.
    pub label: String,
    pub po_box: String,
    pub extended: String,
    pub street: String,
    pub locality: String,
    pub region: String,
    pub postcode: String,
    pub country: String,
}

impl PostalAddress {
    /// The address's lines as compared (its label aside): trimmed, lower case.
    pub(crate) fn place(&self) -> [String; 7] {
        [
            &self.po_box,
            &self.extended,
            &self.street,
            &self.locality,
            &self.region,
            &self.postcode,
            &self.country,
        ]
        .map(|s| s.trim().to_lowercase())
    }
}

/// Someone a person is related to, known by name only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate)]
pub struct RelatedName {
    pub name: String,
    /// "spouse", "assistant", "manager" or the address book's own label.
    pub relation: String,
}
