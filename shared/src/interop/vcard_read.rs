//! Mapping one parsed vCard (2.1, 3.0 or 4.0) to a [`Contact`], with the habits of
//! the address books that write them: iOS groups (`item1.X-ABLabel`) and related
//! names, Android's `X-ANDROID-CUSTOM`, Google's folded photo addresses, Apple's
//! birthdays without a year.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use calcard::common::{IanaString, PartialDateTime};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
};

use super::contact::Contact;
use super::vcard_file::CardText;
use super::vcard_write::newlines_only;
use crate::model::{PostalAddress, RelatedName};

/// The largest photo kept, in bytes; larger ones are left out (and said so).
pub const MAX_PHOTO_BYTES: usize = 48 * 1024;

/// Type words that say nothing a user would call a label.
const NOISE_TYPES: [&str; 7] = [
    "pref",
    "voice",
    "internet",
    "x400",
    "x-internet",
    "uri",
    "text",
];

/// Reads one card. `Err` is the reason the whole card is skipped; `notes` gains
/// what was left out on purpose.
pub(crate) fn read_card(card: &CardText, notes: &mut Vec<String>) -> Result<Contact, String> {
    let vcard = VCard::parse(&card.text)
        .map_err(|e| format!("the card cannot be read ({})", describe(&e)))?;
    let mut c = Contact {
        line: card.line,
        ..Default::default()
    };
    // iOS puts a custom label on a property through a group: item1.TEL + item1.X-ABLabel.
    let group_labels: HashMap<String, String> = vcard
        .entries
        .iter()
        .filter(|e| is_other(e, "X-ABLABEL"))
        .filter_map(|e| Some((e.group.as_ref()?.to_lowercase(), clean_label(&text_of(e)))))
        .collect();
    let mut kept_groups: Vec<String> = Vec::new();
    let mut photo_too_large = None;
    // A card may name several (Android writes each job as its ORG and TITLE).
    let (mut organisations, mut titles, mut roles) = (Vec::new(), Vec::new(), Vec::new());
    for entry in &vcard.entries {
        let label = || {
            entry
                .group
                .as_ref()
                .and_then(|g| group_labels.get(&g.to_lowercase()).cloned())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| type_label(entry))
        };
        match &entry.name {
            VCardProperty::Begin
            | VCardProperty::End
            | VCardProperty::Version
            | VCardProperty::Prodid
            | VCardProperty::Rev => {}
            VCardProperty::Fn => c.name = clean_space(&text_of(entry)),
            VCardProperty::N => c.name_parts = components(entry, 5),
            VCardProperty::Org => push_new(
                &mut organisations,
                components(entry, 0)
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            VCardProperty::Title => push_new(&mut titles, text_of(entry)),
            VCardProperty::Role => push_new(&mut roles, text_of(entry)),
            VCardProperty::Email => {
                let email = text_of(entry).trim().to_string();
                push_labelled(&mut c.emails, &mut c.labels, email, label());
            }
            VCardProperty::Tel => {
                let tel = text_of(entry);
                let tel = tel.trim();
                let tel = tel.strip_prefix("tel:").unwrap_or(tel).to_string();
                push_labelled(&mut c.phones, &mut c.labels, tel, label());
            }
            VCardProperty::Url => {
                let url = uri_of(entry);
                push_labelled(&mut c.urls, &mut c.labels, url, label());
            }
            VCardProperty::Adr => {
                let p = components(entry, 7);
                let address = PostalAddress {
                    label: label(),
                    po_box: p[0].clone(),
                    extended: p[1].clone(),
                    street: p[2].clone(),
                    locality: p[3].clone(),
                    region: p[4].clone(),
                    postcode: p[5].clone(),
                    country: p[6].clone(),
                };
                if p.iter().any(|s| !s.trim().is_empty()) {
                    c.addresses.push(address);
                }
            }
            VCardProperty::Bday => c.birthday = birthday(entry).unwrap_or_default(),
            VCardProperty::Note => {
                let note = text_of(entry);
                if !note.trim().is_empty() {
                    if !c.note.is_empty() {
                        c.note.push_str("\n\n");
                    }
                    c.note.push_str(note.trim());
                }
            }
            VCardProperty::Related => {
                let name = text_of(entry).trim().to_string();
                if !name.is_empty() {
                    c.related.push(RelatedName {
                        name,
                        relation: label(),
                    });
                }
            }
            VCardProperty::Uid => c.uid = text_of(entry).trim().to_string(),
            VCardProperty::Categories => c.categories.extend(
                entry
                    .values
                    .iter()
                    .flat_map(value_texts)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            ),
            VCardProperty::Photo => match photo(entry) {
                Photo::Kept(p) => c.photo = p,
                Photo::TooLarge(size) => photo_too_large = Some(size),
                Photo::Empty => {}
            },
            _ if is_other(entry, "X-ABLABEL") => {}
            _ if is_other(entry, "X-ABRELATEDNAMES") => {
                let name = text_of(entry).trim().to_string();
                if !name.is_empty() {
                    c.related.push(RelatedName {
                        name,
                        relation: label(),
                    });
                }
            }
            _ if is_other(entry, "X-ANDROID-CUSTOM") && android_relation(entry).is_some() => {
                if let Some(related) = android_relation(entry) {
                    c.related.push(related);
                }
            }
            _ => {
                if let Some(group) = &entry.group {
                    kept_groups.push(group.to_lowercase());
                }
                c.extra.push(vcard_line(entry));
            }
        }
    }
    // A label belongs with the unknown property it names.
    for entry in vcard.entries.iter().filter(|e| is_other(e, "X-ABLABEL")) {
        if let Some(group) = &entry.group {
            if kept_groups.contains(&group.to_lowercase()) {
                c.extra.push(vcard_line(entry));
            }
        }
    }
    c.organisation = organisations.join(ALSO);
    c.role = if titles.is_empty() { roles } else { titles }.join(ALSO);
    if c.name.is_empty() {
        c.name = fallback_name(&c).ok_or_else(|| {
            "the card has no name, organisation, email or phone to know the person by".to_string()
        })?;
    }
    if let Some(size) = photo_too_large {
        notes.push(format!(
            "the photo of {} (card at line {}) was left out: {} KiB is more than the {} KiB kept",
            c.name,
            c.line,
            size.div_ceil(1024),
            MAX_PHOTO_BYTES / 1024
        ));
    }
    Ok(c)
}

fn describe(entry: &calcard::Entry) -> String {
    match entry {
        calcard::Entry::InvalidLine(line) => format!("invalid line '{line}'"),
        calcard::Entry::UnterminatedComponent(c) => format!("{c} is not closed"),
        calcard::Entry::UnexpectedComponentEnd { found, .. } => format!("unexpected END:{found:?}"),
        calcard::Entry::Eof => "it is empty".into(),
        _ => "it is not a vCard".into(),
    }
}

fn is_other(entry: &VCardEntry, name: &str) -> bool {
    matches!(&entry.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case(name))
}

fn value_texts(value: &VCardValue) -> Vec<String> {
    match value {
        VCardValue::Text(s) => vec![newlines_only(s)],
        VCardValue::Component(parts) => parts.iter().map(|s| newlines_only(s)).collect(),
        VCardValue::Binary(data) => vec![String::from_utf8_lossy(&data.data).into_owned()],
        VCardValue::PartialDateTime(dt) => vec![format_date(dt).unwrap_or_default()],
        VCardValue::Integer(i) => vec![i.to_string()],
        VCardValue::Float(f) => vec![f.to_string()],
        VCardValue::Boolean(b) => vec![b.to_string()],
        other => other.as_text().map(str::to_string).into_iter().collect(),
    }
}

/// A single-valued property's text (multiple values joined by `,`).
fn text_of(entry: &VCardEntry) -> String {
    entry
        .values
        .iter()
        .map(|v| value_texts(v).join(","))
        .collect::<Vec<_>>()
        .join(",")
}

/// A structured property's positions (`N`, `ADR`, `ORG`), padded to `len`.
fn components(entry: &VCardEntry, len: usize) -> Vec<String> {
    let mut parts: Vec<String> = entry
        .values
        .iter()
        .map(|v| value_texts(v).join(",").trim().to_string())
        .collect();
    if parts.len() < len {
        parts.resize(len, String::new());
    }
    parts
}

fn uri_of(entry: &VCardEntry) -> String {
    let text = entry
        .values
        .first()
        .cloned()
        .and_then(VCardValue::into_uri)
        .unwrap_or_default();
    // Google folds long addresses with an extra space; no address holds white space.
    text.split_whitespace().collect()
}

fn clean_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// iOS writes its own labels as `_$!<Mobile>!$_`; custom ones as typed.
fn clean_label(label: &str) -> String {
    let label = label.trim();
    match label
        .strip_prefix("_$!<")
        .and_then(|l| l.strip_suffix(">!$_"))
    {
        Some(own) => own.to_lowercase(),
        None => label.to_string(),
    }
}

/// The label the `TYPE` parameters give (repeated, comma-separated, any case, or
/// vCard 2.1's bare `TEL;CELL`), without the ones that say nothing.
fn type_label(entry: &VCardEntry) -> String {
    let mut words: Vec<String> = Vec::new();
    for param in &entry.params {
        if param.name != VCardParameterName::Type {
            continue;
        }
        let text = match &param.value {
            VCardParameterValue::Type(t) => t.as_str().to_string(),
            other => other.as_text().unwrap_or_default().to_string(),
        };
        for word in text.split(',') {
            let word = word.trim().to_lowercase();
            if !word.is_empty() && !NOISE_TYPES.contains(&word.as_str()) && !words.contains(&word) {
                words.push(word);
            }
        }
    }
    words.join(",")
}

/// Between the values of a field a card names more than once ("CTO; Board member").
const ALSO: &str = "; ";

/// Adds a value not yet in the list.
fn push_new(list: &mut Vec<String>, value: String) {
    let value = value.trim();
    if !value.is_empty() && !list.iter().any(|known| known == value) {
        list.push(value.to_string());
    }
}

fn push_labelled(
    list: &mut Vec<String>,
    labels: &mut BTreeMap<String, String>,
    value: String,
    label: String,
) {
    if value.is_empty() {
        return;
    }
    if !label.is_empty() {
        labels.entry(value.clone()).or_insert(label);
    }
    if !list.contains(&value) {
        list.push(value);
    }
}

fn format_date(dt: &PartialDateTime) -> Option<String> {
    let (month, day) = (dt.month?, dt.day?);
    Some(match dt.year {
        Some(year) => format!("{year:04}-{month:02}-{day:02}"),
        None => format!("--{month:02}-{day:02}"),
    })
}

/// `YYYY-MM-DD`, or `--MM-DD` without a year (vCard 4 `--MMDD`, Apple's year 1604).
fn birthday(entry: &VCardEntry) -> Option<String> {
    let omit_year = entry.params.iter().any(|p| {
        matches!(&p.name, VCardParameterName::Other(n) if n.eq_ignore_ascii_case("X-APPLE-OMIT-YEAR"))
    });
    let text = match entry.values.first()? {
        VCardValue::PartialDateTime(dt) => format_date(dt)?,
        other => birthday_text(&value_texts(other).join(""))?,
    };
    match text.split_at_checked(4) {
        Some((year, rest)) if omit_year || year == "1604" => Some(format!("--{}", &rest[1..])),
        _ => Some(text),
    }
}

fn birthday_text(text: &str) -> Option<String> {
    let text = text.trim();
    let date = text.split('T').next().unwrap_or_default();
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    let valid = |m: &str, d: &str| {
        matches!(m.parse::<u8>(), Ok(1..=12)) && matches!(d.parse::<u8>(), Ok(1..=31))
    };
    if date.starts_with("--") && digits.len() == 4 {
        let (m, d) = digits.split_at(2);
        return valid(m, d).then(|| format!("--{m}-{d}"));
    }
    if digits.len() == 8 {
        let (y, md) = digits.split_at(4);
        let (m, d) = md.split_at(2);
        return valid(m, d).then(|| format!("{y}-{m}-{d}"));
    }
    None
}

enum Photo {
    Kept(String),
    TooLarge(usize),
    Empty,
}

fn photo(entry: &VCardEntry) -> Photo {
    let declared = entry.params.iter().find_map(|p| match (&p.name, &p.value) {
        (VCardParameterName::Type, v) | (VCardParameterName::Mediatype, v) => {
            v.as_text().map(str::to_lowercase)
        }
        (VCardParameterName::Other(name), VCardParameterValue::Null) => Some(name.to_lowercase()),
        _ => None,
    });
    match entry.values.first() {
        Some(VCardValue::Binary(data)) if !data.data.is_empty() => {
            if data.data.len() > MAX_PHOTO_BYTES {
                return Photo::TooLarge(data.data.len());
            }
            let media = data
                .content_type
                .clone()
                .or_else(|| sniff_image(&data.data).map(str::to_string))
                .or_else(|| declared.map(|t| media_type(&t)))
                .unwrap_or_else(|| "image/jpeg".into());
            Photo::Kept(format!(
                "data:{media};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&data.data)
            ))
        }
        Some(_) => {
            let uri = uri_of(entry);
            if uri.is_empty() {
                Photo::Empty
            } else if uri.len() > MAX_PHOTO_BYTES * 4 / 3 + 64 {
                Photo::TooLarge(uri.len() * 3 / 4)
            } else {
                Photo::Kept(uri)
            }
        }
        None => Photo::Empty,
    }
}

fn media_type(word: &str) -> String {
    if word.contains('/') {
        word.to_string()
    } else {
        format!("image/{}", if word == "jpg" { "jpeg" } else { word })
    }
}

fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'G', b'I', b'F', ..] => Some("image/gif"),
        _ => None,
    }
}

/// Android's `X-ANDROID-CUSTOM:vnd.android.cursor.item/relation;NAME;TYPE;LABEL`.
fn android_relation(entry: &VCardEntry) -> Option<RelatedName> {
    let joined = entry
        .values
        .iter()
        .map(|v| value_texts(v).join(","))
        .collect::<Vec<_>>()
        .join(";");
    let mut fields = joined.split(';');
    if fields.next()?.trim() != "vnd.android.cursor.item/relation" {
        return None;
    }
    let name = fields.next()?.trim().to_string();
    let kind = fields.next().unwrap_or_default().trim();
    let custom = fields.next().unwrap_or_default().trim();
    let relation = match kind {
        "1" => "assistant",
        "2" => "brother",
        "3" => "child",
        "4" => "domestic partner",
        "5" => "father",
        "6" => "friend",
        "7" => "manager",
        "8" => "mother",
        "9" => "parent",
        "10" => "partner",
        "11" => "referred by",
        "12" => "relative",
        "13" => "sister",
        "14" => "spouse",
        _ => custom,
    };
    (!name.is_empty()).then(|| RelatedName {
        name,
        relation: relation.to_string(),
    })
}

/// The entry as one unfolded vCard 4.0 line, to give back on export.
pub(crate) fn vcard_line(entry: &VCardEntry) -> String {
    let mut out = String::new();
    let _ = entry.write_to(&mut out, true);
    out.replace("\r\n ", "").trim_end().to_string()
}

fn fallback_name(c: &Contact) -> Option<String> {
    let mut p = c.name_parts.clone();
    p.resize(p.len().max(5), String::new());
    let from_parts = clean_space(
        &[&p[3], &p[1], &p[2], &p[0], &p[4]]
            .map(String::as_str)
            .join(" "),
    );
    [
        from_parts,
        c.organisation.clone(),
        c.emails.first().cloned().unwrap_or_default(),
        c.phones.first().cloned().unwrap_or_default(),
    ]
    .into_iter()
    .find(|s| !s.trim().is_empty())
}
