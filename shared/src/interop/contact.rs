//! A contact as an address book card describes it, and folding it into a person.

use std::collections::BTreeMap;

use super::matching::{normalise_email, normalise_phone};
use super::vcard_write::{derived_name_parts, newlines_only};
use crate::model::person::add_missing;
use crate::model::{Person, PostalAddress, RelatedName};

/// What one card says about a person, already mapped to Aftercall's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Line of the card's `BEGIN:VCARD` (or of the CSV row) in its file.
    pub line: usize,
    pub name: String,
    /// Family, given, additional, prefixes, suffixes.
    pub name_parts: Vec<String>,
    pub organisation: String,
    pub role: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// Email, phone or web address → its label.
    pub labels: BTreeMap<String, String>,
    pub addresses: Vec<PostalAddress>,
    pub birthday: String,
    pub note: String,
    pub urls: Vec<String>,
    pub related: Vec<RelatedName>,
    pub photo: String,
    pub uid: String,
    pub categories: Vec<String>,
    /// Properties Aftercall does not read, as vCard lines.
    pub extra: Vec<String>,
}

impl Contact {
    /// A new person holding this card.
    pub(crate) fn to_person(&self, created_at: i64) -> Person {
        let mut person = Person {
            created_at,
            ..Default::default()
        };
        self.merge_into(&mut person);
        person
    }

    /// Folds the card into `person`: what the card names wins, lists gain what they
    /// lack, a note is added once. Folding the same card twice changes nothing.
    pub(crate) fn merge_into(&self, p: &mut Person) {
        set_if_given(&mut p.name, &self.name);
        // Parts that only repeat the full name say nothing more (and are what an
        // export writes for a person who has none).
        let says_more = self.name_parts.iter().any(|s| !s.is_empty())
            && self.name_parts != derived_name_parts(&self.name);
        if says_more && p.name_parts != self.name_parts {
            p.name_parts = self.name_parts.clone();
        }
        set_if_given(&mut p.organisation, &self.organisation);
        set_if_given(&mut p.role, &self.role);
        set_if_given(&mut p.birthday, &self.birthday);
        set_if_given(&mut p.photo, &self.photo);
        set_if_given(&mut p.uid, &self.uid);
        add_missing(&mut p.emails, &self.emails, |e| normalise_email(e));
        add_missing(&mut p.phones, &self.phones, |t| {
            normalise_phone(t).unwrap_or_else(|| t.trim().to_string())
        });
        add_missing(&mut p.urls, &self.urls, |u| u.trim().to_string());
        add_missing(&mut p.tags, &self.categories, |t| t.trim().to_lowercase());
        add_missing(&mut p.vcard_extra, &self.extra, Clone::clone);
        add_missing(&mut p.related, &self.related, |r| r.name.to_lowercase());
        for address in &self.addresses {
            match p.addresses.iter_mut().find(|a| same_place(a, address)) {
                Some(known) if known.label.is_empty() && !address.label.is_empty() => {
                    known.label = address.label.clone()
                }
                Some(_) => {}
                None => p.addresses.push(address.clone()),
            }
        }
        for (key, label) in &self.labels {
            if p.labels.get(key) != Some(label) {
                p.labels.insert(key.clone(), label.clone());
            }
        }
        let note = self.note.trim();
        // Notes written before line breaks were read as newlines may hold CRs.
        if !note.is_empty() && !newlines_only(p.notes.as_str()).contains(&newlines_only(note)) {
            let joined = if p.notes.as_str().trim().is_empty() {
                note.to_string()
            } else {
                format!("{}\n\n{note}", p.notes.as_str().trim_end())
            };
            p.notes.update(joined);
        }
    }
}

fn set_if_given(field: &mut String, value: &str) {
    if !value.trim().is_empty() && field != value {
        *field = value.to_string();
    }
}

fn same_place(a: &PostalAddress, b: &PostalAddress) -> bool {
    a.place() == b.place()
}
