//! Reading a `.vcf` file into the text of each card, with line numbers.
//!
//! The parsing library takes one card as UTF-8 text. What real files need before
//! that is done here: decoding lines that are not UTF-8 (old Android and Outlook
//! exports write ISO-8859-1 or Windows-1252), finding where each card starts and
//! ends, and setting aside broken cards and lines with their line numbers so the
//! good cards still import.

use super::report::Skipped;

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

/// Decodes the file and splits it into cards.
pub(crate) fn split_cards(bytes: &[u8]) -> SplitFile {
    let text = decode(bytes);
    let mut out = SplitFile::default();
    let mut card: Option<(usize, Vec<(usize, &str)>)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let word = line.trim();
        if word.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some((start, _)) = card.take() {
                out.skipped.push(Skipped::card(
                    start,
                    "the card has no END:VCARD before the next BEGIN:VCARD",
                ));
            }
            card = Some((n, Vec::new()));
        } else if word.eq_ignore_ascii_case("END:VCARD") {
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

/// Rebuilds one card's text, leaving out lines that are neither a property nor the
/// continuation of one (reported with their line numbers).
fn assemble(start: usize, lines: &[(usize, &str)], skipped: &mut Vec<Skipped>) -> CardText {
    let mut text =
        String::with_capacity(lines.iter().map(|(_, l)| l.len() + 2).sum::<usize>() + 32);
    text.push_str("BEGIN:VCARD\r\n");
    // What the previous property allows to follow it without a leading space.
    let mut open_qp = false;
    let mut in_base64 = false;
    for &(n, line) in lines {
        let continues_fold = line.starts_with([' ', '\t']);
        let continues_qp = open_qp;
        let continues_base64 = in_base64 && !line.is_empty() && is_base64_text(line);
        if line.trim().is_empty() {
            // A blank line ends a 2.1 base64 value; elsewhere it means nothing.
            in_base64 = false;
            open_qp = false;
            continue;
        }
        if !(continues_fold || continues_qp || continues_base64) {
            let Some(colon) = property_colon(line) else {
                skipped.push(Skipped::line(n, "not a property: it has no ':'"));
                continue;
            };
            let head = line[..colon].to_ascii_uppercase();
            in_base64 = head.contains("BASE64") || head.contains("ENCODING=B");
            open_qp = head.contains("QUOTED-PRINTABLE") && line.ends_with('=');
            let name_end = head.find(';').unwrap_or(colon);
            let name = head[..name_end].rsplit('.').next().unwrap_or_default();
            if name == "BDAY" && !head.contains("VALUE=") {
                // Birthdays come as `--MM-DD`, `--MMDD`, `YYYYMMDD`, `YYYY-MM-DD` or
                // with a time; read as text, they are parsed in one place.
                text.push_str(&line[..name_end]);
                text.push_str(";VALUE=text");
                text.push_str(&line[name_end..]);
                text.push_str("\r\n");
                continue;
            }
        } else if continues_qp {
            open_qp = line.ends_with('=');
        }
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("END:VCARD\r\n");
    CardText { line: start, text }
}

/// Where the name and parameters of a property end (the first `:` outside quotes).
fn property_colon(line: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_base64_text(line: &str) -> bool {
    line.trim_end()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The file as text: UTF-8 (with or without a byte-order mark), UTF-16 with a
/// byte-order mark, and otherwise line by line, reading a line that is not UTF-8 as
/// Windows-1252 (a superset of ISO-8859-1's printable characters).
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return decode(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes
            .split(|&b| b == b'\n')
            .map(|line| match std::str::from_utf8(line) {
                Ok(text) => text.to_string(),
                Err(_) => line.iter().map(|&b| windows_1252(b)).collect(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// One Windows-1252 byte as a character.
pub(crate) fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_lines_are_read_beside_utf8_ones() {
        let bytes = b"FN:J\xf6rg M\xfcller\nNOTE:caf\xc3\xa9\n";
        assert_eq!(decode(bytes), "FN:Jörg Müller\nNOTE:café\n");
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
