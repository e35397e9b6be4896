//! The text of one property's value: its bytes read in the charset the property
//! names (`CHARSET=`), after quoted-printable decoding when it has that encoding.
//!
//! Values are decoded before the parsing library unescapes them, so a byte of a
//! multi-byte character that happens to be `0x5C` (Shift_JIS 表, Big5 許) is part of
//! its character, not a backslash.

use encoding_rs::Encoding;

/// A value's text as the parsing library reads it: decoded, with its own escapes.
pub(crate) fn value_text(raw: &[u8], charset: Option<&str>, quoted_printable: bool) -> String {
    if !quoted_printable {
        return decode(raw, charset);
    }
    let text = decode(&decode_quoted_printable(raw), charset);
    // A decoded line break would end the line; written as vCard's `\n` it stays.
    text.replace("\r\n", "\\n").replace(['\r', '\n'], "\\n")
}

/// Bytes as text: in the named charset when they are valid in it, else as UTF-8
/// when they are that, else in the named charset with replacement characters, and
/// with no usable charset named as Windows-1252 (a superset of ISO-8859-1's
/// printable characters, which old Android and Outlook exports write unannounced).
pub(crate) fn decode(bytes: &[u8], charset: Option<&str>) -> String {
    let named = charset.and_then(encoding_named);
    if let Some(text) =
        named.and_then(|e| e.decode_without_bom_handling_and_without_replacement(bytes))
    {
        return text.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    let fallback = named
        .filter(|e| *e != encoding_rs::UTF_8)
        .unwrap_or(encoding_rs::WINDOWS_1252);
    fallback.decode_without_bom_handling(bytes).0.into_owned()
}

/// The encoding a `CHARSET` value names, if it can read one line of a file.
fn encoding_named(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches('"');
    Encoding::for_label(label.as_bytes()).filter(|e| {
        *e != encoding_rs::UTF_16LE && *e != encoding_rs::UTF_16BE && *e != encoding_rs::REPLACEMENT
    })
}

/// Quoted-printable to bytes: `=XX` is the byte XX; an `=` not followed by two hex
/// digits is kept as written, except at the very end (a soft break with nothing
/// after it).
fn decode_quoted_printable(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        let hex = || Some(hex_digit(*raw.get(i + 1)?)? << 4 | hex_digit(*raw.get(i + 2)?)?);
        match (b, hex()) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'=', None) if i + 1 == raw.len() => {}
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_jis_byte_0x5c_stays_inside_its_character() {
        // 表 is 0x95 0x5C; read as Windows-1252 the second byte is a backslash.
        assert_eq!(value_text(b"\x95\x5C;x", Some("SHIFT_JIS"), false), "表;x");
        assert_eq!(value_text(b"=95\\=8E=A6", Some("Shift_JIS"), true), "表示");
    }

    #[test]
    fn quoted_printable_decodes_bytes_then_the_charset_and_keeps_line_breaks_as_escapes() {
        assert_eq!(
            value_text(b"J=C3=BCrgen=0D=0Aline=0Athree=", Some("UTF-8"), true),
            "Jürgen\\nline\\nthree"
        );
        assert_eq!(
            value_text(b"B=E4cker =3D=ZZ", Some("ISO-8859-1"), true),
            "Bäcker ==ZZ"
        );
        assert_eq!(value_text(b"=F7=D3=C5", Some("KOI8-R"), true), "Все");
    }

    #[test]
    fn without_a_usable_charset_utf8_then_windows_1252() {
        assert_eq!(decode("café".as_bytes(), None), "café");
        assert_eq!(decode(b"caf\xe9 \x93x\x94", None), "café “x”");
        assert_eq!(decode(b"caf\xe9", Some("no-such-charset")), "café");
        assert_eq!(decode(b"caf\xe9", Some("UTF-8")), "café", "a wrong label");
        assert_eq!(decode("café".as_bytes(), Some("ISO-8859-1")), "cafÃ©");
    }
}
