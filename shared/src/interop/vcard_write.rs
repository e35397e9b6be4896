//! People out as vCard 4.0 (or 3.0 for older address books), giving back every
//! property an import kept.

use calcard::common::{Data, IanaParse};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardValueType, VCardVersion,
};

use crate::model::Person;
use crate::{Error, Result, Store};

/// Which vCard to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VcardVersion {
    V3,
    #[default]
    V4,
}

impl std::str::FromStr for VcardVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "3" | "3.0" => Ok(VcardVersion::V3),
            "4" | "4.0" => Ok(VcardVersion::V4),
            other => Err(Error::invalid(format!(
                "unknown vCard version '{other}': use 3 or 4"
            ))),
        }
    }
}

impl Store {
    /// Everyone (or the people in `ids`) as one `.vcf` text, CRLF line ends.
    pub fn export_vcards(
        &self,
        ids: Option<&[crate::model::PersonId]>,
        version: VcardVersion,
    ) -> Result<String> {
        let people = self.people_documents(ids)?;
        let mut out = String::with_capacity(people.len() * 400);
        for (id, person) in &people {
            write_card(&mut out, id, person, version);
        }
        Ok(out)
    }
}

/// Writes one person as a card.
pub(crate) fn write_card(out: &mut String, id: &str, p: &Person, version: VcardVersion) {
    let mut card = VCard::default();
    let kept: Vec<VCardEntry> = p.vcard_extra.iter().flat_map(|l| parse_line(l)).collect();
    let taken: Vec<String> = kept
        .iter()
        .filter_map(|e| e.group.as_ref().map(|g| g.to_lowercase()))
        .collect();
    let mut groups = Groups { next: 0, taken };
    let text = |s: &str| VCardValue::Text(s.to_string());
    card.entries
        .push(VCardEntry::new(VCardProperty::Fn).with_value(text(&p.name)));
    let mut parts = p.name_parts.clone();
    if parts.iter().all(String::is_empty) {
        parts = derived_name_parts(&p.name);
    }
    parts.resize(5, String::new());
    card.entries.push(
        VCardEntry::new(VCardProperty::N).with_values(parts.iter().map(|s| text(s)).collect()),
    );
    let uid = if p.uid.is_empty() {
        format!("{OWN_UID_PREFIX}{id}")
    } else {
        p.uid.clone()
    };
    card.entries
        .push(VCardEntry::new(VCardProperty::Uid).with_value(text(&uid)));
    if !p.organisation.is_empty() {
        card.entries
            .push(VCardEntry::new(VCardProperty::Org).with_value(text(&p.organisation)));
    }
    if !p.role.is_empty() {
        card.entries
            .push(VCardEntry::new(VCardProperty::Title).with_value(text(&p.role)));
    }
    for (prop, values) in [
        (VCardProperty::Email, &p.emails),
        (VCardProperty::Tel, &p.phones),
        (VCardProperty::Url, &p.urls),
    ] {
        for value in values {
            let entry = VCardEntry::new(prop.clone()).with_value(text(value));
            let label = p.labels.get(value).map(String::as_str).unwrap_or_default();
            card.entries.extend(labelled(entry, label, &mut groups));
        }
    }
    for a in &p.addresses {
        let entry = VCardEntry::new(VCardProperty::Adr).with_values(
            [
                &a.po_box,
                &a.extended,
                &a.street,
                &a.locality,
                &a.region,
                &a.postcode,
                &a.country,
            ]
            .into_iter()
            .map(|s| text(s))
            .collect(),
        );
        card.entries.extend(labelled(entry, &a.label, &mut groups));
    }
    if !p.birthday.is_empty() {
        let value = match (version, p.birthday.strip_prefix("--")) {
            (VcardVersion::V4, Some(md)) => format!("--{}", md.replace('-', "")),
            (VcardVersion::V4, None) => p.birthday.replace('-', ""),
            (VcardVersion::V3, _) => p.birthday.clone(),
        };
        card.entries
            .push(VCardEntry::new(VCardProperty::Bday).with_value(text(&value)));
    }
    for r in &p.related {
        let group = Some(groups.next_name());
        card.entries.push(
            VCardEntry::new(VCardProperty::Other("X-ABRELATEDNAMES".into()))
                .with_group(group.clone())
                .with_value(text(&r.name)),
        );
        if !r.relation.is_empty() {
            card.entries.push(
                VCardEntry::new(VCardProperty::Other("X-ABLabel".into()))
                    .with_group(group)
                    .with_value(text(&r.relation)),
            );
        }
    }
    if !p.tags.is_empty() {
        card.entries.push(
            VCardEntry::new(VCardProperty::Categories)
                .with_values(p.tags.iter().map(|t| text(t)).collect()),
        );
    }
    if !p.notes.as_str().trim().is_empty() {
        card.entries
            .push(VCardEntry::new(VCardProperty::Note).with_value(text(p.notes.as_str())));
    }
    if let Some(photo) = photo_entry(&p.photo) {
        card.entries.push(photo);
    }
    card.entries.extend(kept);
    for entry in &mut card.entries {
        line_breaks_as_newlines(entry);
    }
    let version = match version {
        VcardVersion::V3 => VCardVersion::V3_0,
        VcardVersion::V4 => VCardVersion::V4_0,
    };
    let _ = card.write_to(out, version);
}

/// Writes every line break in the entry's text as `\n`: RFC 6350 escapes a line
/// break as `\n` and defines no `\r`, which the library would write for a CR.
fn line_breaks_as_newlines(entry: &mut VCardEntry) {
    let as_newlines = |s: &mut String| {
        if s.contains('\r') {
            *s = newlines_only(s);
        }
    };
    for value in &mut entry.values {
        match value {
            VCardValue::Text(s) => as_newlines(s),
            VCardValue::Component(parts) => parts.iter_mut().for_each(as_newlines),
            _ => {}
        }
    }
}

/// The text with every CRLF and lone CR as a newline.
pub(crate) fn newlines_only(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The property with its label: as `TYPE=` when every word of it is a vCard type,
/// else iOS-style as a group with an `X-ABLabel`, which keeps any label as typed.
fn labelled(mut entry: VCardEntry, label: &str, groups: &mut Groups) -> Vec<VCardEntry> {
    if label.is_empty() {
        return vec![entry];
    }
    let words: Vec<&str> = label.split(',').map(str::trim).collect();
    let types: Option<Vec<VCardType>> = words
        .iter()
        .map(|w| {
            (w.to_lowercase() == *w)
                .then(|| VCardType::parse(w.as_bytes()))
                .flatten()
        })
        .collect();
    match types {
        Some(types) => {
            for t in types {
                entry.add_param(VCardParameter::typ(VCardParameterValue::Type(t)));
            }
            vec![entry]
        }
        None => {
            let group = Some(groups.next_name());
            vec![
                entry.with_group(group.clone()),
                VCardEntry::new(VCardProperty::Other("X-ABLabel".into()))
                    .with_group(group)
                    .with_value(VCardValue::Text(label.to_string())),
            ]
        }
    }
}

/// Names for iOS-style groups (`item1.`), skipping those kept properties already use.
struct Groups {
    next: usize,
    taken: Vec<String>,
}

impl Groups {
    fn next_name(&mut self) -> String {
        loop {
            self.next += 1;
            let name = format!("item{}", self.next);
            if !self.taken.contains(&name) {
                return name;
            }
        }
    }
}

fn photo_entry(photo: &str) -> Option<VCardEntry> {
    if photo.is_empty() {
        return None;
    }
    let entry = VCardEntry::new(VCardProperty::Photo);
    if let Some(rest) = photo.strip_prefix("data:") {
        let (media, data) = rest.split_once(";base64,")?;
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        return Some(entry.with_value(VCardValue::Binary(Data {
            content_type: Some(media.to_string()),
            data: bytes,
        })));
    }
    Some(
        entry
            .with_param(VCardParameter::new(
                VCardParameterName::Value,
                VCardParameterValue::ValueType(VCardValueType::Uri),
            ))
            .with_value(VCardValue::Text(photo.to_string())),
    )
}

/// A kept vCard line back as an entry.
fn parse_line(line: &str) -> Vec<VCardEntry> {
    let text = format!("BEGIN:VCARD\r\nVERSION:4.0\r\n{line}\r\nEND:VCARD\r\n");
    VCard::parse(&text)
        .map(|card| {
            card.entries
                .into_iter()
                .filter(|e| !matches!(e.name, VCardProperty::Version))
                .collect()
        })
        .unwrap_or_default()
}

/// The uid of a card written for a person who came without one: their record id.
pub(crate) const OWN_UID_PREFIX: &str = "urn:aftercall:";

/// The vCard name parts written when only the full name is known:
/// "Ana María Ruiz" → family "Ruiz", given "Ana María".
pub(crate) fn derived_name_parts(name: &str) -> Vec<String> {
    let mut parts: Vec<String> = match name.trim().rsplit_once(' ') {
        Some((given, family)) => vec![family.into(), given.into()],
        None => vec![String::new(), name.trim().into()],
    };
    parts.resize(5, String::new());
    parts
}
