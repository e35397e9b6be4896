//! Telling what an imported file holds from its content, not its name.

use serde::{Deserialize, Serialize};

/// What a file given to import holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// iCalendar (`.ics`): meetings.
    Calendar,
    /// vCards (`.vcf`): contacts.
    Vcards,
    /// Comma-separated values (a spreadsheet, LinkedIn's or Google's contacts).
    Csv,
    /// None of these.
    Unknown,
}

impl FileKind {
    /// Looks at the start of the file: the first `BEGIN:` says calendar or vCard;
    /// otherwise a line of several comma-separated fields among the first few says CSV.
    pub fn of(bytes: &[u8]) -> FileKind {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]).to_ascii_uppercase();
        let calendar = head
            .find("BEGIN:VCALENDAR")
            .or_else(|| head.find("BEGIN:VEVENT"));
        let card = head.find("BEGIN:VCARD");
        match (calendar, card) {
            (Some(c), Some(v)) if v < c => return FileKind::Vcards,
            (Some(_), _) => return FileKind::Calendar,
            (None, Some(_)) => return FileKind::Vcards,
            (None, None) => {}
        }
        // LinkedIn's export opens with a few lines of notes before its header.
        let header = head
            .trim_start_matches('\u{feff}')
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('"'))
            .take(4)
            .any(|line| line.split(',').filter(|f| !f.trim().is_empty()).count() >= 2);
        if header {
            FileKind::Csv
        } else {
            FileKind::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_their_content() {
        assert_eq!(
            FileKind::of(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"),
            FileKind::Calendar
        );
        assert_eq!(
            FileKind::of(b"\xef\xbb\xbfBEGIN:VCARD\nFN:A\nEND:VCARD\n"),
            FileKind::Vcards
        );
        assert_eq!(
            FileKind::of(
                b"Notes:\n\"When exporting, see https://x, or y\"\n\nFirst Name,Last Name,URL\n"
            ),
            FileKind::Csv
        );
        assert_eq!(
            FileKind::of(b"First Name,Last Name,URL,Email Address\nAna,M,,a@x\n"),
            FileKind::Csv
        );
        assert_eq!(FileKind::of(b"hello"), FileKind::Unknown);
    }
}
