//! Telling whether a card from an address book is someone already in the user's people.
//!
//! A card matches on its uid, then on any email or phone, then on its exact name
//! (ignoring case and spacing). Emails and phones are compared normalised, so
//! `Ana@Example.com` is `ana@example.com` and `+49 (170) 123-4567` is `+491701234567`.
//! A number written the national way (`030 1234567`) also matches the same number
//! written with its country code (`+49 30 1234567`): each phone is kept under its
//! last seven digits too, and candidates found that way are confirmed by
//! [`same_phone`].

use rusqlite::{Connection, OptionalExtension};

use crate::model::Person;
use crate::{fold, Result};

/// What a match key is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Uid,
    Email,
    Phone,
    /// The last digits of a phone, to find the same number written another way.
    PhoneTail,
}

impl KeyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::Uid => "uid",
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::PhoneTail => "phone_tail",
        }
    }
}

/// An email as compared: trimmed, lower case, without a `mailto:` prefix.
pub fn normalise_email(email: &str) -> String {
    let email = email.trim();
    let email = email
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .map_or(email, |_| &email[7..]);
    email.to_lowercase()
}

/// A phone number as compared: digits only, with a leading `+` for international
/// numbers (`00` counts as `+`). `None` when it holds fewer than five digits, which
/// is too little to tell people apart.
pub fn normalise_phone(phone: &str) -> Option<String> {
    let phone = phone.trim();
    let phone = phone
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("tel:"))
        .map_or(phone, |_| &phone[4..]);
    // An extension or a note after the number is not part of it.
    let number = phone.split([';', 'x', 'X', ',']).next().unwrap_or_default();
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    let international = number.trim_start().starts_with('+');
    Some(match digits.strip_prefix("00") {
        Some(rest) if !international => format!("+{rest}"),
        _ if international => format!("+{digits}"),
        _ => digits,
    })
}

/// Digits a phone is looked up by before [`same_phone`] confirms it.
const PHONE_TAIL: usize = 7;

/// Whether two normalised numbers (see [`normalise_phone`]) are the same number:
/// equal, or one written nationally (with or without its trunk `0`) and the other
/// with a country code of one to three digits in front of the same digits.
pub fn same_phone(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (international, national) = match (a.strip_prefix('+'), b.strip_prefix('+')) {
        (Some(i), None) => (i, b),
        (None, Some(i)) => (i, a),
        _ => return false,
    };
    let without_trunk = national.strip_prefix('0').unwrap_or(national);
    [national, without_trunk].into_iter().any(|n| {
        n.len() >= PHONE_TAIL
            && international.len() > n.len()
            && international.len() - n.len() <= 3
            && international.ends_with(n)
    })
}

/// The lookup key of a normalised phone, when it is long enough to compare loosely.
fn phone_tail(normalised: &str) -> Option<String> {
    let digits = normalised.trim_start_matches('+');
    (digits.len() >= PHONE_TAIL).then(|| digits[digits.len() - PHONE_TAIL..].to_string())
}

/// Every key a person can be matched on.
pub(crate) fn match_keys(p: &Person) -> Vec<(KeyKind, String)> {
    let mut keys = Vec::new();
    if !p.uid.trim().is_empty() {
        keys.push((KeyKind::Uid, p.uid.trim().to_string()));
    }
    for email in &p.emails {
        let key = normalise_email(email);
        if !key.is_empty() {
            keys.push((KeyKind::Email, key));
        }
    }
    for phone in &p.phones {
        if let Some(key) = normalise_phone(phone) {
            if let Some(tail) = phone_tail(&key) {
                keys.push((KeyKind::PhoneTail, tail));
            }
            keys.push((KeyKind::Phone, key));
        }
    }
    keys
}

/// The live person a card with these keys and this name is, if any.
pub(crate) fn find_match(
    conn: &Connection,
    uid: &str,
    emails: &[String],
    phones: &[String],
    name: &str,
) -> Result<Option<String>> {
    let by_key = |kind: KeyKind, key: &str| -> Result<Option<String>> {
        Ok(conn
            .prepare_cached(
                "SELECT k.person_id FROM person_keys k JOIN people p ON p.id = k.person_id
                 WHERE k.kind = ?1 AND k.key = ?2 AND p.deleted = 0
                 ORDER BY p.created_at, p.id LIMIT 1",
            )?
            .query_row([kind.as_str(), key], |r| r.get(0))
            .optional()?)
    };
    if !uid.trim().is_empty() {
        if let Some(id) = by_key(KeyKind::Uid, uid.trim())? {
            return Ok(Some(id));
        }
    }
    for email in emails {
        if let Some(id) = by_key(KeyKind::Email, &normalise_email(email))? {
            return Ok(Some(id));
        }
    }
    let phones: Vec<String> = phones.iter().filter_map(|p| normalise_phone(p)).collect();
    for key in &phones {
        if let Some(id) = by_key(KeyKind::Phone, key)? {
            return Ok(Some(id));
        }
    }
    for key in &phones {
        let Some(tail) = phone_tail(key) else {
            continue;
        };
        let mut stmt = conn.prepare_cached(
            "SELECT t.person_id, k.key FROM person_keys t
             JOIN people p ON p.id = t.person_id
             JOIN person_keys k ON k.person_id = t.person_id AND k.kind = ?2
             WHERE t.kind = ?1 AND t.key = ?3 AND p.deleted = 0
             ORDER BY p.created_at, p.id",
        )?;
        let mut rows = stmt.query([KeyKind::PhoneTail.as_str(), KeyKind::Phone.as_str(), &tail])?;
        while let Some(row) = rows.next()? {
            let theirs: String = row.get(1)?;
            if same_phone(key, &theirs) {
                return Ok(Some(row.get(0)?));
            }
        }
    }
    if name.trim().is_empty() {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT id FROM people WHERE name_key = ?1 AND deleted = 0
             ORDER BY created_at, id LIMIT 1",
        )?
        .query_row([fold::name_key(name)], |r| r.get(0))
        .optional()?)
}

/// Adds the keys of people written before keys (or phone tails) were kept, so an
/// import matches them too.
pub(crate) fn backfill_keys(conn: &Connection) -> Result<()> {
    let missing: Vec<(String, String, String)> = conn
        .prepare(
            "SELECT id, emails, phones FROM people
             WHERE deleted = 0
               AND ((emails != '' OR phones != '')
                      AND id NOT IN (SELECT person_id FROM person_keys)
                    OR phones != ''
                      AND id NOT IN (SELECT person_id FROM person_keys
                                     WHERE kind = 'phone_tail'))",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut ins = conn.prepare_cached(
        "INSERT OR IGNORE INTO person_keys (kind, key, person_id) VALUES (?1, ?2, ?3)",
    )?;
    for (id, emails, phones) in missing {
        let person = Person {
            emails: emails.lines().map(str::to_string).collect(),
            phones: phones.lines().map(str::to_string).collect(),
            ..Default::default()
        };
        for (kind, key) in match_keys(&person) {
            ins.execute([kind.as_str(), &key, &id])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_written_differently_compare_equal() {
        assert_eq!(
            normalise_phone("+49 (170) 123-4567").as_deref(),
            Some("+491701234567")
        );
        assert_eq!(
            normalise_phone("0049 170 1234567").as_deref(),
            Some("+491701234567")
        );
        assert_eq!(
            normalise_phone("tel:+1-555-010-9999;ext=12").as_deref(),
            Some("+15550109999")
        );
        assert_eq!(normalise_phone("555 0100 x 23").as_deref(), Some("5550100"));
        assert_eq!(normalise_phone("112"), None);
    }

    #[test]
    fn a_national_number_is_the_same_as_it_with_a_country_code() {
        let same = |a: &str, b: &str| {
            same_phone(&normalise_phone(a).unwrap(), &normalise_phone(b).unwrap())
        };
        assert!(same("030 1234567", "+49 30 1234567"));
        assert!(same("+49 30 1234567", "030 1234567"));
        assert!(same("(555) 010-9999", "+1 555 010 9999"));
        // Italy keeps the 0 after the country code.
        assert!(same("06 1234 5678", "+39 06 1234 5678"));
        assert!(same("0049 30 1234567", "+49 30 1234567"));
        // Different numbers, or too few digits to tell.
        assert!(!same("030 1234567", "+49 40 1234567"));
        assert!(!same("+49 30 1234567", "+43 30 1234567"));
        assert!(!same("030 1234567", "031 1234567"));
        assert!(!same("123 4567", "+4912 3451234567"));
        assert!(!same("34567", "+49 34567"));
    }

    #[test]
    fn emails_compare_without_case_or_mailto() {
        assert_eq!(
            normalise_email(" MAILTO:Ana@Example.COM "),
            "ana@example.com"
        );
    }
}
