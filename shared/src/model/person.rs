//! A person the user has met or been referred to.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use super::Cadence;

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

/// Someone a person is related to, known by name only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate)]
pub struct RelatedName {
    pub name: String,
    /// "spouse", "assistant", "manager" or the address book's own label.
    pub relation: String,
}
