//! How alike two written names are, for telling whether a card is a person already
//! known: "Ana R." may be "Ana Ruiz-Vega"; "Ana Ruiz" is not "Ben Ode".

use crate::fold;

/// How alike two names are, least alike first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameLikeness {
    Different,
    /// Only the first word is the same ("Ana Ruiz", "Ana Smith"): a family name may
    /// have changed.
    SameFirstWord,
    /// Every word of the shorter name is a word of the other, in any order, an
    /// initial standing for a word ("L. Vogt", "Lena Vogt"; "Chidi Okafor",
    /// "Dr. Chidi Emeka Okafor").
    Compatible,
    /// The same name, ignoring case and spacing.
    Same,
}

/// How alike `a` and `b` are. Accents count, as when matching a typed name.
pub(crate) fn name_likeness(a: &str, b: &str) -> NameLikeness {
    if fold::name_key(a) == fold::name_key(b) {
        return NameLikeness::Same;
    }
    let (a, b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return NameLikeness::Different;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let mut left: Vec<&str> = long.iter().map(String::as_str).collect();
    let within = short.iter().all(|w| {
        let found = left.iter().position(|l| stands_for(w, l));
        found.map(|i| left.remove(i)).is_some()
    });
    if within {
        NameLikeness::Compatible
    } else if a[0] == b[0] && a[0].chars().count() > 1 {
        NameLikeness::SameFirstWord
    } else {
        NameLikeness::Different
    }
}

/// The words of a name, lower case, without the punctuation around them; a hyphen
/// separates words ("Ruiz-Vega").
fn words(name: &str) -> Vec<String> {
    fold::name_key(name)
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The same word, or an initial of it.
fn stands_for(a: &str, b: &str) -> bool {
    let initial = |short: &str, long: &str| short.chars().count() == 1 && long.starts_with(short);
    a == b || initial(a, b) || initial(b, a)
}

#[cfg(test)]
mod tests {
    use super::NameLikeness::*;
    use super::*;

    #[test]
    fn names_compare_by_their_words_and_initials() {
        assert_eq!(name_likeness("benjamin  ODE", "Benjamin Ode"), Same);
        assert_eq!(name_likeness("Ana R.", "Ana Ruiz-Vega"), Compatible);
        assert_eq!(name_likeness("L. Vogt", "Lena Vogt"), Compatible);
        assert_eq!(
            name_likeness("Okafor Chidi", "Dr. Chidi Emeka Okafor"),
            Compatible
        );
        assert_eq!(name_likeness("Ana Smith", "Ana Ruiz"), SameFirstWord);
        assert_eq!(name_likeness("Ana Ruiz", "Ben Ode"), Different);
        assert_eq!(name_likeness("A. Ruiz", "A. Smith"), Different);
        assert_eq!(
            name_likeness("José Ruiz", "Jose Ruiz"),
            Different,
            "accents count"
        );
        assert_eq!(name_likeness("", "Ana"), Different);
    }
}
