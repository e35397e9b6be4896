//! Telling whether a card from an address book is someone already in the user's people.
//!
//! A card matches on its uid. Without one known, it matches the person who shares the
//! most with it of those who share an email, a phone or its exact name (ignoring
//! case and spacing), where the names must agree for a shared phone to count, and
//! nearly so for an email: two colleagues behind one office number stay two people,
//! and importing their cards again does not swap them. Emails and phones are compared
//! normalised, so `Ana@Example.com` is `ana@example.com` and `+49 (170) 123-4567` is
//! `+491701234567`.
//! A number written the national way (`030 1234567`) also matches the same number
//! written with its country code (`+49 30 1234567`): each phone is kept under its
//! last seven digits too, and candidates found that way are confirmed by
//! [`same_phone`].

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use super::name_likeness::{name_likeness, NameLikeness};

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
    /// A profile's address on a network that gives each member one (LinkedIn), as
    /// a uid of its own: a connections export has no other.
    Profile,
}

impl KeyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::Uid => "uid",
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::PhoneTail => "phone_tail",
            KeyKind::Profile => "profile",
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

/// A LinkedIn profile address as compared (`linkedin.com/in/NAME`, lower case, no
/// scheme, `www.` or trailing slash); `None` for any other address.
pub(crate) fn profile_key(url: &str) -> Option<String> {
    let url = url.trim().to_lowercase();
    let url = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(&url);
    let url = url.strip_prefix("www.").unwrap_or(url);
    let path = url.strip_prefix("linkedin.com/in/")?;
    let name = path.split(['/', '?', '#']).next().unwrap_or_default();
    (!name.is_empty()).then(|| format!("linkedin.com/in/{name}"))
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
    for url in &p.urls {
        if let Some(key) = profile_key(url) {
            keys.push((KeyKind::Profile, key));
        }
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

/// What a card has in common with one person.
#[derive(Debug, Default, Clone, Copy)]
struct Shared {
    email: bool,
    phone: bool,
}

/// The live person a card with these keys and this name is, if any: the one with
/// its uid, else its LinkedIn profile; else, of the people who share an email, a phone or the name with it,
/// the one who shares the most and is not told apart by the name or the uid (see
/// [`weight`]), the earliest written on a tie.
pub(crate) fn find_match(
    conn: &Connection,
    uid: &str,
    urls: &[String],
    emails: &[String],
    phones: &[String],
    name: &str,
) -> Result<Option<String>> {
    let uid = uid.trim();
    if !uid.is_empty() {
        if let Some(id) = people_with_key(conn, KeyKind::Uid, uid)?.into_iter().next() {
            return Ok(Some(id));
        }
    }
    for key in urls.iter().filter_map(|u| profile_key(u)) {
        if let Some(id) = people_with_key(conn, KeyKind::Profile, &key)?
            .into_iter()
            .next()
        {
            return Ok(Some(id));
        }
    }
    let mut shared: BTreeMap<String, Shared> = BTreeMap::new();
    for email in emails {
        for id in people_with_key(conn, KeyKind::Email, &normalise_email(email))? {
            shared.entry(id).or_default().email = true;
        }
    }
    for phone in phones.iter().filter_map(|p| normalise_phone(p)) {
        for id in people_with_phone(conn, &phone)? {
            shared.entry(id).or_default().phone = true;
        }
    }
    if !name.trim().is_empty() {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM people WHERE name_key = ?1 AND deleted = 0 ORDER BY created_at, id",
        )?;
        for id in stmt.query_map([fold::name_key(name)], |r| r.get::<_, String>(0))? {
            shared.entry(id?).or_default();
        }
    }
    let mut matches: Vec<(u32, i64, String)> = Vec::new();
    for (id, with) in shared {
        let (their_name, their_uid, created_at) = person_facts(conn, &id)?;
        let other_uid = !uid.is_empty() && !their_uid.is_empty() && their_uid != uid;
        if let Some(weight) = weight(with, name_likeness(name, &their_name), other_uid) {
            matches.push((weight, created_at, id));
        }
    }
    // The strongest; of equals, the earliest written (then the smallest id).
    let best = matches
        .into_iter()
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| (&b.1, &b.2).cmp(&(&a.1, &a.2))));
    Ok(best.map(|(_, _, id)| id))
}

/// How strongly a card is a person it shares `with`, or `None` when it is someone
/// else. An email is personal: it matches unless the names differ (a changed family
/// name still matches, unless the person came from another card of a known uid). A
/// phone is often shared (an office line, a family's landline): it matches only
/// when the names agree. The name alone matches when it is the same and no other
/// uid tells the two apart.
fn weight(with: Shared, names: NameLikeness, other_uid: bool) -> Option<u32> {
    let agree = names >= NameLikeness::Compatible;
    let by_email = with.email && (agree || (names == NameLikeness::SameFirstWord && !other_uid));
    let by_phone = with.phone && agree;
    let by_name = names == NameLikeness::Same && !other_uid;
    (by_email || by_phone || by_name)
        .then(|| 4 * u32::from(with.email) + 2 * u32::from(with.phone) + names as u32)
}

/// The live people who have this key, earliest written first.
pub(crate) fn people_with_key(conn: &Connection, kind: KeyKind, key: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.person_id FROM person_keys k JOIN people p ON p.id = k.person_id
         WHERE k.kind = ?1 AND k.key = ?2 AND p.deleted = 0
         ORDER BY p.created_at, p.id",
    )?;
    let ids = stmt.query_map([kind.as_str(), key], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// The live people who have this normalised phone, written this way or another.
fn people_with_phone(conn: &Connection, phone: &str) -> Result<Vec<String>> {
    let mut ids = people_with_key(conn, KeyKind::Phone, phone)?;
    let Some(tail) = phone_tail(phone) else {
        return Ok(ids);
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
        let (id, theirs): (String, String) = (row.get(0)?, row.get(1)?);
        if same_phone(phone, &theirs) && !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A person's name, uid (empty without one) and when they were written.
fn person_facts(conn: &Connection, id: &str) -> Result<(String, String, i64)> {
    let (name, created_at) = conn
        .prepare_cached("SELECT name, created_at FROM people WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let uid: Option<String> = conn
        .prepare_cached("SELECT key FROM person_keys WHERE person_id = ?1 AND kind = ?2")?
        .query_row([id, KeyKind::Uid.as_str()], |r| r.get(0))
        .optional()?;
    Ok((name, uid.unwrap_or_default(), created_at))
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
