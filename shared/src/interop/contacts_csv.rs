//! Contacts from a spreadsheet export: LinkedIn's connections (`Connections.csv`,
//! a few lines of notes before its header) and Google Contacts' CSV (either of its
//! header styles), read into the same [`Contact`]s a vCard gives, so an import
//! matches, updates and reports them alike.
//!
//! A LinkedIn row is known again by its profile address (see `matching`), a row
//! without one by its email. A row with more or fewer fields than the header is
//! skipped with its line number; the rest are imported.

use std::collections::BTreeMap;

use super::contact::Contact;
use super::import::ParsedVcards;
use super::report::Skipped;
use crate::model::PostalAddress;

/// The spreadsheet exports read as contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    LinkedIn,
    Google,
}

/// First fields a contacts header begins with.
const HEADER_STARTS: [&str; 3] = ["first name", "name", "given name"];

/// Reads the contacts of a LinkedIn or Google Contacts CSV export.
pub(crate) fn parse_contacts_csv(bytes: &[u8]) -> ParsedVcards {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut out = ParsedVcards::default();
    // The header is the first line that begins like one (LinkedIn writes notes
    // first, one of them a quoted paragraph holding commas).
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let first = line.split(',').next().unwrap_or_default();
        let first = first.trim().trim_matches('"').to_lowercase();
        if HEADER_STARTS.contains(&first.as_str()) {
            break;
        }
        offset += line.len();
        if n > 20 {
            offset = 0;
            break;
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&text.as_bytes()[offset..]);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|f| f.trim().to_string()).collect(),
        Err(e) => {
            let line = LineCounter::new(text.as_bytes()).at(offset);
            out.skipped
                .push(Skipped::card(line, format!("no header row: {e}")));
            return out;
        }
    };
    let column: BTreeMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_lowercase(), i))
        .collect();
    let layout = if column.contains_key("url") && column.contains_key("connected on") {
        Layout::LinkedIn
    } else {
        Layout::Google
    };
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(text.as_bytes());
    loop {
        let line = lines.at(offset + reader.position().byte() as usize);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.skipped
                    .push(Skipped::card(line, format!("the row cannot be read: {e}")));
                continue;
            }
        }
        let line = record
            .position()
            .map_or(line, |p| lines.at(offset + p.byte() as usize));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != headers.len() {
            out.skipped.push(Skipped::card(
                line,
                format!(
                    "the row has {} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let row = Row {
            column: &column,
            record: &record,
        };
        let contact = match layout {
            Layout::LinkedIn => linkedin(&row, line),
            Layout::Google => google(&row, &headers, line),
        };
        if contact.name.is_empty() {
            out.skipped.push(Skipped::card(
                line,
                "the row names nobody: no name, email or phone",
            ));
        } else {
            out.contacts.push(contact);
        }
    }
    out
}

/// Line numbers of byte offsets, counted forward as rows are read. (The `csv`
/// reader's own count puts a row after a CRLF on the line before.)
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of the row starting at `offset` (at or after the last one
    /// asked about); a row said to start on the LF of a CRLF starts after it.
    fn at(&mut self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        if self.text.get(offset) == Some(&b'\n') {
            offset += 1;
        }
        if offset >= self.at {
            self.line += self.text[self.at..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.at = offset;
        }
        self.line
    }
}

/// One row, read by column name.
struct Row<'a> {
    column: &'a BTreeMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, name: &str) -> String {
        self.column
            .get(&name.to_lowercase())
            .and_then(|&i| self.record.get(i))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

fn linkedin(row: &Row<'_>, line: usize) -> Contact {
    let (first, last) = (row.get("First Name"), row.get("Last Name"));
    let mut c = Contact {
        line,
        organisation: row.get("Company"),
        role: row.get("Position"),
        ..Default::default()
    };
    let url = row.get("URL");
    if !url.is_empty() {
        c.labels.insert(url.clone(), "LinkedIn".into());
        c.urls.push(url);
    }
    let email = row.get("Email Address");
    if !email.is_empty() {
        c.emails.push(email);
    }
    set_name(
        &mut c,
        [last, first, String::new(), String::new(), String::new()],
    );
    c
}

fn google(row: &Row<'_>, headers: &[String], line: usize) -> Contact {
    let mut c = Contact {
        line,
        birthday: row.get("Birthday"),
        note: row.get("Notes"),
        ..Default::default()
    };
    // Two header styles: "Given Name" (older) and "First Name" (newer).
    let given = [row.get("Given Name"), row.get("First Name")].concat();
    let additional = [row.get("Additional Name"), row.get("Middle Name")].concat();
    let family = [row.get("Family Name"), row.get("Last Name")].concat();
    let parts = [
        family,
        given,
        additional,
        row.get("Name Prefix"),
        row.get("Name Suffix"),
    ];
    c.organisation = [
        row.get("Organization 1 - Name"),
        row.get("Organization Name"),
    ]
    .concat();
    c.role = [
        row.get("Organization 1 - Title"),
        row.get("Organization Title"),
    ]
    .concat();
    // Numbered columns: "E-mail 2 - Value", with its "- Type" (older) or "- Label".
    for header in headers {
        let Some((what, field)) = header.split_once(" - ") else {
            continue;
        };
        if field != "Value" && field != "Formatted" {
            continue;
        }
        let label = clean_label(
            &[
                row.get(&format!("{what} - Type")),
                row.get(&format!("{what} - Label")),
            ]
            .concat(),
        );
        // One cell can hold several values, joined by " ::: ".
        let values: Vec<String> = row
            .get(header)
            .split(":::")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        let list = if what.starts_with("E-mail") {
            &mut c.emails
        } else if what.starts_with("Phone") {
            &mut c.phones
        } else if what.starts_with("Website") {
            &mut c.urls
        } else if what.starts_with("Address") && field == "Formatted" {
            for v in values {
                c.addresses.push(address(row, what, &label, v));
            }
            continue;
        } else {
            continue;
        };
        for v in values {
            if !label.is_empty() {
                c.labels.insert(v.clone(), label.clone());
            }
            list.push(v);
        }
    }
    let groups = [row.get("Group Membership"), row.get("Labels")].concat();
    c.categories = groups
        .split(":::")
        .map(str::trim)
        .filter(|g| !g.is_empty() && !g.starts_with('*'))
        .map(str::to_string)
        .collect();
    let name = row.get("Name");
    if name.is_empty() {
        set_name(&mut c, parts);
    } else {
        c.name = name;
        c.name_parts = parts.to_vec();
    }
    if c.name.is_empty() {
        c.name = [row.get("Nickname"), c.organisation.clone()]
            .into_iter()
            .chain(c.emails.first().cloned())
            .chain(c.phones.first().cloned())
            .find(|n| !n.is_empty())
            .unwrap_or_default();
    }
    c
}

/// A postal address from its columns, the formatted one as the street when the
/// parts are missing.
fn address(row: &Row<'_>, what: &str, label: &str, formatted: String) -> PostalAddress {
    let part = |name: &str| row.get(&format!("{what} - {name}"));
    let mut a = PostalAddress {
        label: label.to_string(),
        po_box: part("PO Box"),
        extended: part("Extended Address"),
        street: part("Street"),
        locality: part("City"),
        region: part("Region"),
        postcode: part("Postal Code"),
        country: part("Country"),
    };
    if a.place().iter().all(String::is_empty) {
        a.street = formatted;
    }
    a
}

/// Google marks the primary entry with `* ` before its label ("* Work").
fn clean_label(label: &str) -> String {
    label.trim_start_matches('*').trim().to_lowercase()
}

/// The name from its parts: given (additional) family, with prefix and suffix.
fn set_name(c: &mut Contact, parts: [String; 5]) {
    let [family, given, additional, prefix, suffix] = &parts;
    c.name = [prefix, given, additional, family, suffix]
        .into_iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    c.name_parts = parts.to_vec();
    if c.name.is_empty() {
        if let Some(first) = c.emails.first().or(c.phones.first()) {
            c.name = first.clone();
        }
    }
}
