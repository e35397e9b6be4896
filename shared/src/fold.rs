//! Text folding for matching: case, accents and spacing do not matter.

use unicode_normalization::UnicodeNormalization;

/// Lower case, accents removed, inner white space collapsed: `"  José  García"` → `"jose garcia"`.
///
/// It runs on every note saved and on every search, so it goes a word at a time and
/// takes a word of plain ASCII (most words) without decomposing it.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            out.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            let stripped: String = word
                .nfd()
                .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
                .collect();
            out.push_str(&stripped.to_lowercase());
        }
    }
    out
}

/// The name key a person is matched on when captured by name: case-insensitive,
/// spacing-insensitive, but accents kept (José and Jose may be two people).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One FTS5 query term, quoted so that no word is read as an operator.
pub fn fts_term(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// An FTS5 query term matching every word that begins with `word`.
pub fn fts_prefix(word: &str) -> String {
    format!("{}*", fts_term(word))
}

/// The words of a search, folded, for highlighting matches in results.
pub fn search_terms(input: &str) -> Vec<String> {
    words(&fold(input)).map(str::to_string).collect()
}

/// The words of text already folded: runs of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_spacing() {
        assert_eq!(fold("  José   GARCÍA "), "jose garcia");
        assert_eq!(fold("Zoë Ångström"), "zoe angstrom");
        assert_eq!(name_key(" Ana  Müller"), "ana müller");
    }

    #[test]
    fn folding_a_word_at_a_time_is_folding_the_whole_text() {
        let whole = |text: &str| {
            let stripped: String = text
                .nfd()
                .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
                .collect::<String>()
                .to_lowercase();
            stripped.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        for text in [
            "",
            "   ",
            "Plain ASCII words, Numbers 42 and\tTabs\nlines",
            "ΟΔΥΣΣΕΥΣ  ΚΑΙ ΣΑΣ",
            "Ταξίδι στην Ελλάδα",
            "Zoë Ångström née Dvořák — café\u{00A0}Zürich",
            "ﬁne İstanbul Straße Œuvre",
            "e\u{301}cole \u{1E9E}",
            "東京 Москва Йошкар-Ола",
        ] {
            assert_eq!(fold(text), whole(text), "{text:?}");
        }
    }

    #[test]
    fn search_input_becomes_safe_words_and_terms() {
        assert_eq!(search_terms("Mül, pri-CE"), ["mul", "pri", "ce"]);
        assert_eq!(search_terms("\"OR\" AND* (x)"), ["or", "and", "x"]);
        assert!(search_terms(" -*\" ").is_empty());
        assert_eq!(fts_prefix("or"), "\"or\"*");
        assert_eq!(fts_term("a\"b"), "\"a\"\"b\"");
    }
}
