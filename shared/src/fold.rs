//! Text folding for matching: case, accents and spacing do not matter.

use unicode_normalization::UnicodeNormalization;

/// Lower case, accents removed, inner white space collapsed: `"  José  García"` → `"jose garcia"`.
pub fn fold(text: &str) -> String {
    let stripped: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The name key a person is matched on when captured by name: case-insensitive,
/// spacing-insensitive, but accents kept (José and Jose may be two people).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds an FTS5 query in which every word the user typed must match as a prefix.
/// Returns `None` when the input holds no searchable word.
pub fn fts_prefix_query(input: &str) -> Option<String> {
    let words: Vec<String> = fold(input)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The words of a search, folded, for highlighting matches in results.
pub fn search_terms(input: &str) -> Vec<String> {
    fold(input)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
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
    fn search_input_becomes_a_safe_prefix_query() {
        assert_eq!(fts_prefix_query("Mül pri").unwrap(), "\"mul\"* \"pri\"*");
        assert_eq!(
            fts_prefix_query("\"OR\" AND* (x)").unwrap(),
            "\"or\"* \"and\"* \"x\"*"
        );
        assert!(fts_prefix_query(" -*\" ").is_none());
    }
}
