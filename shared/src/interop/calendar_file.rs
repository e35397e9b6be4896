//! Reading an `.ics` file into the text of each event and time zone, with line
//! numbers.
//!
//! The parsing library takes a calendar as text and drops what it cannot read
//! without saying where. Here the file's lines are unfolded (RFC 5545 §3.1) with the
//! number of the line each property starts on, the events (`VEVENT`) and time zones
//! (`VTIMEZONE`) are found by their `BEGIN`/`END`, and lines that are not a property
//! or components that never end are set aside with their line numbers, so that the
//! rest of the file still imports.

use super::report::Skipped;
use super::vcard_file::{property_colon, without_bom};

/// Which top-level component a block of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ComponentKind {
    Event,
    TimeZone,
}

/// One event or time zone as the library reads it.
#[derive(Debug, Clone)]
pub(crate) struct ComponentText {
    pub kind: ComponentKind,
    /// 1-based line number of its `BEGIN:`.
    pub line: usize,
    /// The component inside a `VCALENDAR` of its own, one property a line.
    pub text: String,
    /// The properties of the component itself (not of an alarm inside it), upper
    /// case, with the line each starts on: to say where a value cannot be read.
    pub properties: Vec<(String, usize)>,
}

impl ComponentText {
    /// The line the component's first `name` property starts on, else its `BEGIN`.
    pub fn line_of(&self, name: &str) -> usize {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map_or(self.line, |(_, line)| *line)
    }
}

/// A file split into components, and what was set aside.
#[derive(Debug, Default)]
pub(crate) struct SplitCalendar {
    pub components: Vec<ComponentText>,
    /// The calendar's own time zone (`X-WR-TIMEZONE`), for times written without one.
    pub default_zone: Option<String>,
    /// The calendar's name (`X-WR-CALNAME`); Google names an export by its owner's address.
    pub name: Option<String>,
    pub skipped: Vec<Skipped>,
}

/// A component being read: what it is, its `BEGIN` line, the names of the
/// components open inside it, and its text so far.
struct Open {
    kind: ComponentKind,
    line: usize,
    nested: Vec<String>,
    text: String,
    properties: Vec<(String, usize)>,
}

/// Splits a calendar file into its events and time zones.
pub(crate) fn split_calendar(bytes: &[u8]) -> SplitCalendar {
    let bytes = without_bom(bytes);
    let mut out = SplitCalendar::default();
    let mut in_calendar = false;
    let mut open: Option<Open> = None;
    for (line, property) in unfold(&bytes) {
        let Some(colon) = property_colon(property.as_bytes()) else {
            out.skipped
                .push(Skipped::line(line, "not a property: it has no ':'"));
            continue;
        };
        let (head, value) = (&property[..colon], property[colon + 1..].trim());
        let name = head.split(';').next().unwrap_or_default().trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            out.skipped.push(Skipped::line(
                line,
                "not a property: its name is not a word",
            ));
            continue;
        }
        let name = name.to_ascii_uppercase();
        let value_word = value.to_ascii_uppercase();
        if let Some(component) = open.as_mut() {
            match name.as_str() {
                "BEGIN" if value_word == component_name(component.kind) => {
                    let start = component.line;
                    out.skipped.push(Skipped::card(
                        start,
                        format!("the {value_word} has no END before the next BEGIN:{value_word}"),
                    ));
                    open = Some(Open::new(component.kind, line));
                    continue;
                }
                "BEGIN" => component.nested.push(value_word.clone()),
                "END" if component.nested.last() == Some(&value_word) => {
                    component.nested.pop();
                }
                "END"
                    if component.nested.is_empty()
                        && value_word == component_name(component.kind) =>
                {
                    if let Some(done) = open.take() {
                        out.components.push(done.finish());
                    }
                    continue;
                }
                "END" => {
                    out.skipped.push(Skipped::line(
                        line,
                        format!("END:{value_word} does not close the component open here"),
                    ));
                    continue;
                }
                _ if component.nested.is_empty() => {
                    component.properties.push((name.clone(), line));
                }
                _ => {}
            }
            component.text.push_str(&property);
            component.text.push_str("\r\n");
            continue;
        }
        match (name.as_str(), value_word.as_str()) {
            ("BEGIN", "VCALENDAR") => in_calendar = true,
            ("END", "VCALENDAR") => in_calendar = false,
            ("BEGIN", "VEVENT") => open = Some(Open::new(ComponentKind::Event, line)),
            ("BEGIN", "VTIMEZONE") => open = Some(Open::new(ComponentKind::TimeZone, line)),
            ("X-WR-TIMEZONE", _) if in_calendar => out.default_zone = Some(value.to_string()),
            ("X-WR-CALNAME", _) if in_calendar => out.name = Some(value.to_string()),
            _ if in_calendar => {}
            _ => out.skipped.push(Skipped::line(
                line,
                "text outside a calendar (expected BEGIN:VCALENDAR)",
            )),
        }
    }
    if let Some(component) = open {
        out.skipped.push(Skipped::card(
            component.line,
            format!(
                "the file ends inside this {} (no END:{})",
                component_name(component.kind),
                component_name(component.kind)
            ),
        ));
    }
    out.skipped.sort_by_key(|s| s.line);
    out
}

impl Open {
    fn new(kind: ComponentKind, line: usize) -> Open {
        let name = component_name(kind);
        Open {
            kind,
            line,
            nested: Vec::new(),
            text: format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:{name}\r\n"),
            properties: Vec::new(),
        }
    }

    fn finish(mut self) -> ComponentText {
        // Components left open inside (an alarm without its END) are closed here.
        while let Some(inner) = self.nested.pop() {
            self.text.push_str(&format!("END:{inner}\r\n"));
        }
        self.text.push_str(&format!(
            "END:{}\r\nEND:VCALENDAR\r\n",
            component_name(self.kind)
        ));
        ComponentText {
            kind: self.kind,
            line: self.line,
            text: self.text,
            properties: self.properties,
        }
    }
}

fn component_name(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Event => "VEVENT",
        ComponentKind::TimeZone => "VTIMEZONE",
    }
}

/// The file's properties with their physical lines joined (a line starting with a
/// space or a tab continues the one before, that one character removed), each with
/// the line it starts on. Bytes that are not UTF-8 are replaced, a line at a time.
fn unfold(bytes: &[u8]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        match (out.last_mut(), line.first()) {
            (Some((_, last)), Some(b' ' | b'\t')) => last.extend_from_slice(&line[1..]),
            _ if line.trim_ascii().is_empty() => {}
            _ => out.push((i + 1, line.to_vec())),
        }
    }
    out.into_iter()
        .map(|(n, bytes)| (n, String::from_utf8_lossy(&bytes).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_time_zones_are_found_with_their_lines() {
        let file = "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Europe/Berlin\r\nBEGIN:VTIMEZONE\r\n\
                    TZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
                    END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Long\r\n  title\r\n\
                    DTSTART:20261201T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n\
                    END:VEVENT\r\nEND:VCALENDAR\r\n";
        let split = split_calendar(file.as_bytes());
        assert!(split.skipped.is_empty(), "{:?}", split.skipped);
        assert_eq!(split.default_zone.as_deref(), Some("Europe/Berlin"));
        let kinds: Vec<(ComponentKind, usize)> =
            split.components.iter().map(|c| (c.kind, c.line)).collect();
        assert_eq!(
            kinds,
            vec![(ComponentKind::TimeZone, 3), (ComponentKind::Event, 9)]
        );
        let event = &split.components[1];
        assert_eq!(
            event.text,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Long title\r\n\
             DTSTART:20261201T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(event.line_of("DTSTART"), 13);
        assert_eq!(event.line_of("ACTION"), 9);
    }

    #[test]
    fn broken_lines_and_unended_events_are_reported_by_line() {
        let file = "junk before\nBEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nno colon\n\
                    BEGIN:VEVENT\nUID:b\nEND:VTODO\nEND:VEVENT\nBEGIN:VEVENT\nUID:c\n";
        let split = split_calendar(file.as_bytes());
        let skipped: Vec<(usize, bool)> = split
            .skipped
            .iter()
            .map(|s| (s.line, s.whole_card))
            .collect();
        assert_eq!(
            skipped,
            vec![(1, false), (3, true), (5, false), (8, false), (10, true)]
        );
        assert_eq!(split.components.len(), 1);
        assert!(split.components[0].text.contains("UID:b\r\n"));
    }
}
