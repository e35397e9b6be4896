//! Search matches highlighted in a text, matching the way search does: case and
//! accents ignored, every search word matching the start of a word.

use aftercall_shared::fold::fold;
use dioxus::prelude::*;

/// Splits `text` into pieces, each marked whether it matches one of `terms`
/// (folded search words, as `aftercall_shared::fold::search_terms` gives them).
pub fn pieces(text: &str, terms: &[String]) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    // Fold character by character, remembering which original character each
    // folded character came from.
    let mut folded: Vec<char> = Vec::new();
    let mut origin: Vec<usize> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let f = fold(&c.to_string());
        let f = if f.is_empty() && c.is_whitespace() {
            " ".to_string()
        } else {
            f
        };
        for fc in f.chars() {
            folded.push(fc);
            origin.push(i);
        }
    }
    let mut marked = vec![false; chars.len()];
    for term in terms {
        let t: Vec<char> = term.chars().collect();
        if t.is_empty() {
            continue;
        }
        for start in 0..folded.len() {
            let word_start = start == 0 || !folded[start - 1].is_alphanumeric();
            if word_start && folded[start..].starts_with(&t) {
                for k in start..start + t.len() {
                    marked[origin[k]] = true;
                }
            }
        }
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for (c, m) in chars.into_iter().zip(marked) {
        match out.last_mut() {
            Some((s, lm)) if *lm == m => s.push(c),
            _ => out.push((c.to_string(), m)),
        }
    }
    out
}

/// Where in `text` the first match of `terms` is, as a short excerpt around it.
pub fn excerpt(text: &str, terms: &[String], width: usize) -> Option<String> {
    let ps = pieces(text, terms);
    let mut before = 0usize;
    for (s, m) in &ps {
        if *m {
            let chars: Vec<char> = text.chars().collect();
            let start = before.saturating_sub(width / 3);
            let end = (start + width).min(chars.len());
            let mut out: String = chars[start..end].iter().collect();
            out = out.replace('\n', " ");
            if start > 0 {
                out = format!("…{out}");
            }
            if end < chars.len() {
                out.push('…');
            }
            return Some(out);
        }
        before += s.chars().count();
    }
    None
}

/// A text with the search words highlighted.
#[component]
pub fn Highlight(text: String, terms: Vec<String>) -> Element {
    let ps = pieces(&text, &terms);
    rsx! {
        for (i, (s, m)) in ps.into_iter().enumerate() {
            if m {
                mark { key: "{i}", "{s}" }
            } else {
                span { key: "{i}", "{s}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, terms: &[&str]) -> Vec<String> {
        let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
        pieces(text, &terms)
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(s, _)| s)
            .collect()
    }

    #[test]
    fn matches_ignore_case_and_accents_and_keep_the_original_text() {
        assert_eq!(
            marked("José García talked PRICING", &["garc", "pri"]),
            ["Garc", "PRI"]
        );
        assert_eq!(marked("Zoë Ångström", &["zoe", "ang"]), ["Zoë", "Ång"]);
    }

    #[test]
    fn only_word_starts_match_like_search_does() {
        assert!(marked("reprice", &["price"]).is_empty());
        assert_eq!(marked("re-price", &["price"]), ["price"]);
    }

    #[test]
    fn pieces_join_back_to_the_text() {
        let text = "Ana Müller — pricing, ünïcode";
        let joined: String = pieces(text, &["mul".into(), "uni".into()])
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn excerpts_centre_on_the_first_match() {
        let text = "a long preamble that goes on and on before the word pricing comes up";
        let e = excerpt(text, &["pricing".into()], 30).unwrap();
        assert!(e.contains("pricing"), "{e}");
        assert!(e.starts_with('…'));
        assert!(excerpt(text, &["zzz".into()], 30).is_none());
    }
}
