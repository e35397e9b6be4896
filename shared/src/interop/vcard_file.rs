//! Reading a `.vcf` file into the text of each card, with line numbers.
//!
//! The parsing library takes one card as UTF-8 text. What real files need before
//! that is done here, on the file's bytes: finding where each card starts and
//! ends; joining each property's physical lines (folds, quoted-printable soft
//! breaks, vCard 2.1 base64 runs) before anything is decoded, so that a fold inside
//! a UTF-8 character or inside the parameters joins back whole (RFC 6350 §3.2);
//! decoding each property by its own `CHARSET` and quoted-printable encoding
//! ([`super::vcard_charset`]); and setting aside broken cards and lines with their
//! line numbers so the good cards still import.

use std::borrow::Cow;

use super::report::Skipped;
use super::vcard_charset::{decode, value_text};

/// One card's text as the library reads it, and where it starts in the file.
#[derive(Debug, Clone)]
pub(crate) struct CardText {
    /// 1-based line number of its `BEGIN:VCARD`.
    pub line: usize,
    pub text: String,
}

/// A file split into cards, and what was set aside.
#[derive(Debug, Default)]
pub(crate) struct SplitFile {
    pub cards: Vec<CardText>,
    pub skipped: Vec<Skipped>,
}

/// A card being read: the line of its `BEGIN:VCARD`, and its lines with their numbers.
type OpenCard<'a> = (usize, Vec<(usize, &'a [u8])>);

/// Splits the file into cards and decodes each.
pub(crate) fn split_cards(bytes: &[u8]) -> SplitFile {
    let bytes = without_bom(bytes);
    let mut out = SplitFile::default();
    let mut card: Option<OpenCard<'_>> = None;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let word = line.trim_ascii();
        if word.eq_ignore_ascii_case(b"BEGIN:VCARD") {
            if let Some((start, _)) = card.take() {
                out.skipped.push(Skipped::card(
                    start,
                    "the card has no END:VCARD before the next BEGIN:VCARD",
                ));
            }
            card = Some((n, Vec::new()));
        } else if word.eq_ignore_ascii_case(b"END:VCARD") {
            match card.take() {
                Some((start, lines)) => out.cards.push(assemble(start, &lines, &mut out.skipped)),
                None => out
                    .skipped
                    .push(Skipped::line(n, "END:VCARD without a BEGIN:VCARD")),
            }
        } else if let Some((_, lines)) = card.as_mut() {
            lines.push((n, line));
        } else if !word.is_empty() {
            out.skipped.push(Skipped::line(
                n,
                "text outside a card (expected BEGIN:VCARD)",
            ));
        }
    }
    if let Some((start, _)) = card {
        out.skipped.push(Skipped::card(
            start,
            "the file ends inside this card (no END:VCARD)",
        ));
    }
    out
}

/// Rebuilds one card's text, a decoded line per property, leaving out lines that
/// are not a property (reported with their line numbers).
fn assemble(start: usize, lines: &[(usize, &[u8])], skipped: &mut Vec<Skipped>) -> CardText {
    let mut text =
        String::with_capacity(lines.iter().map(|(_, l)| l.len() + 2).sum::<usize>() + 32);
    text.push_str("BEGIN:VCARD\r\n");
    for property in unfold(lines) {
        match property_line(&property.bytes) {
            Some(line) => {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            None => skipped.push(Skipped::line(
                property.line,
                "not a property: it has no ':'",
            )),
        }
    }
    text.push_str("END:VCARD\r\n");
    CardText { line: start, text }
}

/// One property's bytes with its physical lines joined, and the line it starts on.
#[derive(Debug)]
struct Unfolded {
    line: usize,
    bytes: Vec<u8>,
    /// How the property's next physical line may continue it without a fold.
    open: Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Closed,
    /// A quoted-printable value whose last line ends in a soft break (`=`).
    SoftBreak,
    /// A base64 value: vCard 2.1 writes its lines without a leading space.
    Base64,
}

/// Joins physical lines into properties: a line starting with a space or tab
/// continues the one before (that one character removed); after a quoted-printable
/// soft break the next line continues the value as it is; a base64 value takes the
/// base64 lines that follow it. A blank line ends a soft break or a base64 run.
fn unfold(lines: &[(usize, &[u8])]) -> Vec<Unfolded> {
    let mut out: Vec<Unfolded> = Vec::new();
    for &(n, line) in lines {
        let Some(last) = out.last_mut() else {
            if !line.trim_ascii().is_empty() {
                out.push(Unfolded::start(n, line.trim_ascii_start()));
            }
            continue;
        };
        if line.trim_ascii().is_empty() {
            last.open = Open::Closed;
            continue;
        }
        match last.open {
            Open::SoftBreak => {
                last.bytes.pop();
                last.bytes.extend_from_slice(line);
            }
            Open::Base64 if line.starts_with(b" ") || line.starts_with(b"\t") => {
                last.bytes.extend_from_slice(line.trim_ascii());
            }
            Open::Base64 if is_base64_text(line) => last.bytes.extend_from_slice(line.trim_ascii()),
            _ if line.starts_with(b" ") || line.starts_with(b"\t") => {
                last.bytes.extend_from_slice(&line[1..]);
            }
            _ => {
                out.push(Unfolded::start(n, line));
                continue;
            }
        }
        last.refresh();
    }
    out
}

impl Unfolded {
    fn start(line: usize, bytes: &[u8]) -> Unfolded {
        let mut u = Unfolded {
            line,
            bytes: bytes.to_vec(),
            open: Open::Closed,
        };
        u.refresh();
        u
    }

    /// Works out, from the parameters once the colon is there, what may follow.
    fn refresh(&mut self) {
        let Some(colon) = property_colon(&self.bytes) else {
            self.open = Open::Closed;
            return;
        };
        let head = Head::parse(&decode(&self.bytes[..colon], None));
        self.open = if head.base64 {
            Open::Base64
        } else if head.quoted_printable && self.bytes.ends_with(b"=") {
            Open::SoftBreak
        } else {
            Open::Closed
        };
    }
}

/// One unfolded property as a decoded line, or `None` when it has no `:`.
fn property_line(bytes: &[u8]) -> Option<String> {
    let colon = property_colon(bytes)?;
    let head = Head::parse(&decode(&bytes[..colon], None));
    let value = &bytes[colon + 1..];
    if head.base64 {
        // Binary: left to the library, with every parameter it names.
        return Some(format!("{}:{}", head.raw, decode(value, None)));
    }
    let charset = head.charset.as_deref();
    let text = value_text(value, charset, head.quoted_printable);
    Some(format!("{}:{text}", head.written()))
}

/// A property's name and parameters (what comes before its colon).
#[derive(Debug)]
struct Head {
    raw: String,
    /// `group.NAME`, as written.
    name: String,
    /// The parameters kept for the library, as written.
    params: Vec<String>,
    charset: Option<String>,
    quoted_printable: bool,
    base64: bool,
}

impl Head {
    fn parse(raw: &str) -> Head {
        let mut parts = split_unquoted(raw, b';').into_iter();
        let mut head = Head {
            raw: raw.to_string(),
            name: parts.next().unwrap_or_default().to_string(),
            params: Vec::new(),
            charset: None,
            quoted_printable: false,
            base64: false,
        };
        for param in parts {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                None => (param.trim(), None),
            };
            let is = |word: &str| key.eq_ignore_ascii_case(word);
            let value_is = |words: &[&str]| {
                value.is_some_and(|v| words.iter().any(|w| v.eq_ignore_ascii_case(w)))
            };
            if is("CHARSET") {
                head.charset = value.map(str::to_string);
            } else if (is("ENCODING") && value_is(&["QUOTED-PRINTABLE", "Q"]))
                || (value.is_none() && is("QUOTED-PRINTABLE"))
            {
                // vCard 2.1 lets a parameter be written by its value alone.
                head.quoted_printable = true;
            } else {
                head.base64 |= (is("ENCODING") && value_is(&["BASE64", "B"]))
                    || (value.is_none() && is("BASE64"));
                head.params.push(param.to_string());
            }
        }
        head
    }

    /// The head as the library reads the decoded value: without the charset and
    /// encoding already applied. Birthdays are read as text (they come as `--MM-DD`,
    /// `--MMDD`, `YYYYMMDD`, `YYYY-MM-DD` or with a time) and parsed in one place.
    fn written(&self) -> String {
        let mut out = self.name.clone();
        let property = self.name.rsplit('.').next().unwrap_or_default();
        let has_value_type = self
            .params
            .iter()
            .any(|p| p.trim_start().to_ascii_uppercase().starts_with("VALUE="));
        if property.eq_ignore_ascii_case("BDAY") && !has_value_type {
            out.push_str(";VALUE=text");
        }
        for param in &self.params {
            out.push(';');
            out.push_str(param);
        }
        out
    }
}

/// `text` split at `sep` where it is outside double quotes.
fn split_unquoted(text: &str, sep: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut from = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            _ if b == sep && !quoted => {
                parts.push(&text[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[from..]);
    parts
}

/// Where the name and parameters of a property end (the first `:` outside quotes).
pub(super) fn property_colon(line: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_base64_text(line: &[u8]) -> bool {
    line.trim_ascii_end()
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The file's bytes without a UTF-8 byte-order mark, and UTF-16 with a byte-order
/// mark as UTF-8. Everything else is decoded a property at a time.
pub(super) fn without_bom(bytes: &[u8]) -> Cow<'_, [u8]> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) if encoding == encoding_rs::UTF_8 => Cow::Borrowed(&bytes[bom..]),
        Some((encoding, _)) => {
            let (text, _) = encoding.decode_with_bom_removal(bytes);
            Cow::Owned(text.into_owned().into_bytes())
        }
        None => Cow::Borrowed(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_text(lines: &str) -> String {
        let file = format!("BEGIN:VCARD\r\n{lines}END:VCARD\r\n");
        let split = split_cards(file.as_bytes());
        assert!(split.skipped.is_empty(), "{:?}", split.skipped);
        split.cards[0].text.clone()
    }

    #[test]
    fn latin1_lines_are_read_beside_utf8_ones() {
        let split =
            split_cards(b"BEGIN:VCARD\nFN:J\xf6rg M\xfcller\nNOTE:caf\xc3\xa9\nEND:VCARD\n");
        assert_eq!(
            split.cards[0].text,
            "BEGIN:VCARD\r\nFN:Jörg Müller\r\nNOTE:café\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn utf16_files_with_a_byte_order_mark_are_read() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "BEGIN:VCARD\r\nFN:Zoë\r\nEND:VCARD\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let split = split_cards(&bytes);
        assert!(split.cards[0].text.contains("FN:Zoë\r\n"));
    }

    #[test]
    fn lines_are_joined_as_bytes_before_they_are_decoded() {
        let é = "é".as_bytes();
        let mut file = b"BEGIN:VCARD\r\nFN:Ren".to_vec();
        file.extend_from_slice(&[é[0], b'\r', b'\n', b' ', é[1]]);
        file.extend_from_slice(b"e\r\nEMAIL;TYPE=\r\n INTERNET:r@x\r\nEND:VCARD\r\n");
        let split = split_cards(&file);
        assert!(split.skipped.is_empty(), "{:?}", split.skipped);
        assert_eq!(
            split.cards[0].text,
            "BEGIN:VCARD\r\nFN:Renée\r\nEMAIL;TYPE=INTERNET:r@x\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn quoted_printable_is_decoded_here_and_its_parameters_dropped() {
        assert_eq!(
            card_text("NOTE;QUOTED-PRINTABLE;CHARSET=UTF-8:M=C3=BC=\r\nller=\r\n\r\nTEL:1\r\n"),
            "BEGIN:VCARD\r\nNOTE:Müller\r\nTEL:1\r\nEND:VCARD\r\n"
        );
        assert_eq!(
            card_text("item1.ADR;HOME;ENCODING=QUOTED-PRINTABLE:;;a=0D=0Ab;c\r\n"),
            "BEGIN:VCARD\r\nitem1.ADR;HOME:;;a\\nb;c\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn base64_keeps_its_parameters_and_joins_its_lines() {
        assert_eq!(
            card_text("PHOTO;ENCODING=BASE64;JPEG:\r\n /9j/\r\n  AAAA\r\nBBBB\r\n\r\nTEL:1\r\n"),
            "BEGIN:VCARD\r\nPHOTO;ENCODING=BASE64;JPEG:/9j/AAAABBBB\r\nTEL:1\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn birthdays_are_read_as_text() {
        assert_eq!(
            card_text("item2.BDAY:--0412\r\n"),
            "BEGIN:VCARD\r\nitem2.BDAY;VALUE=text:--0412\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn cards_are_found_and_broken_ones_reported_by_line() {
        let file = "junk\nBEGIN:VCARD\nFN:A\nno colon here\nEND:VCARD\nBEGIN:VCARD\nFN:B\n\
                    BEGIN:VCARD\nFN:C\nEND:VCARD\nEND:VCARD\nBEGIN:VCARD\nFN:D\n";
        let split = split_cards(file.as_bytes());
        let lines: Vec<usize> = split.cards.iter().map(|c| c.line).collect();
        assert_eq!(lines, vec![2, 8]);
        assert!(!split.cards[0].text.contains("no colon"));
        let skipped: Vec<(usize, &str)> = split
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 5, "{skipped:?}");
        assert_eq!(skipped[0].0, 1);
        assert_eq!(skipped[1].0, 4);
        assert_eq!(skipped[2].0, 6);
        assert_eq!(skipped[3].0, 11);
        assert_eq!(skipped[4].0, 12);
    }
}
