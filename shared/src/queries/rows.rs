//! The row shapes queries return, and loading them from the read model.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::attachments::{attachments_on, attachments_on_person, AttachmentRow};
use crate::model::{
    Cadence, Channel, Day, EventId, InteractionId, InteractionKind, PersonId, ReferralId,
    ReferralStatus, ThankYouState,
};
use crate::Result;

/// A person's id and name, as lists show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub id: PersonId,
    pub name: String,
}

/// An event's id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventName {
    pub id: EventId,
    pub name: String,
    pub date: Day,
}

/// Everything stored about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetail {
    pub id: PersonId,
    pub name: String,
    pub organisation: String,
    pub role: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub how_met: String,
    pub introduced_by: Option<PersonName>,
    pub event: Option<EventName>,
    pub tags: Vec<String>,
    pub notes: String,
    pub created_at: i64,
    pub deleted: bool,
    /// How often to keep in touch, if the user set it.
    pub cadence: Option<Cadence>,
    /// What is attached to the person themselves (not to a conversation).
    pub attachments: Vec<AttachmentRow>,
}

/// A referral with who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRow {
    pub id: ReferralId,
    pub interaction_id: InteractionId,
    pub referrer: Option<PersonName>,
    pub name: String,
    pub person_id: Option<PersonId>,
    pub will_introduce: bool,
    pub will_tell: bool,
    pub may_use_name: bool,
    pub reach: String,
    pub status: ReferralStatus,
    /// When it was suggested (the conversation's time), ms since the epoch.
    pub at: i64,
}

/// A conversation as lists and the diary show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionRow {
    pub id: InteractionId,
    pub at: i64,
    pub kind: InteractionKind,
    pub channel: Channel,
    pub people: Vec<PersonName>,
    pub talked_about: String,
    pub recommended: String,
    pub observations: String,
    pub next_step: String,
    pub business_discussed: bool,
    pub offer_made: bool,
    pub thank_you: ThankYouState,
    pub thank_you_sent_on: Option<Day>,
    pub follow_up_on: Option<Day>,
    pub follow_up_done: bool,
    pub event: Option<EventName>,
    pub referrals: Vec<ReferralRow>,
    pub attachments: Vec<AttachmentRow>,
}

fn split_lines(s: String) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn person_name(conn: &Connection, id: &str) -> Result<Option<PersonName>> {
    Ok(conn
        // A person merged away is shown as the person kept.
        .prepare_cached(
            "SELECT k.id, k.name FROM people p JOIN people k ON k.id = COALESCE(p.kept_id, p.id)
             WHERE p.id = ?1",
        )?
        .query_row([id], |r| {
            Ok(PersonName {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .optional()?)
}

pub(crate) fn event_name(conn: &Connection, id: &str) -> Result<Option<EventName>> {
    Ok(conn
        .prepare_cached("SELECT id, name, date FROM events WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(EventName {
                id: r.get(0)?,
                name: r.get(1)?,
                date: r.get(2)?,
            })
        })
        .optional()?)
}

pub(crate) fn person_detail(conn: &Connection, id: &str) -> Result<Option<PersonDetail>> {
    let row = conn
        .prepare_cached(
            "SELECT id, name, organisation, role, emails, phones, how_met, introduced_by,
                    event_id, tags, notes, created_at, deleted, cadence
             FROM people WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                PersonDetail {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    organisation: r.get(2)?,
                    role: r.get(3)?,
                    emails: split_lines(r.get(4)?),
                    phones: split_lines(r.get(5)?),
                    how_met: r.get(6)?,
                    introduced_by: None,
                    event: None,
                    tags: split_lines(r.get(9)?),
                    notes: r.get(10)?,
                    created_at: r.get(11)?,
                    deleted: r.get(12)?,
                    cadence: r.get(13)?,
                    attachments: Vec::new(),
                },
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })
        .optional()?;
    let Some((mut detail, introduced_by, event)) = row else {
        return Ok(None);
    };
    detail.attachments = attachments_on_person(conn, id)?;
    if let Some(by) = introduced_by {
        detail.introduced_by = person_name(conn, &by)?;
    }
    if let Some(ev) = event {
        detail.event = event_name(conn, &ev)?;
    }
    Ok(Some(detail))
}

const REFERRAL_COLUMNS: &str = "r.id, r.interaction_id, r.referrer_id, r.name, r.person_id,
    r.will_introduce, r.will_tell, r.may_use_name, r.reach, r.status, r.at";

/// ` LIMIT n` when a query asks for at most `n` rows.
fn limit_clause(limit: Option<usize>) -> String {
    limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
}

/// How many rows of `from` (a table and its alias) match `filter`.
pub(crate) fn count_where(
    conn: &Connection,
    from: &str,
    filter: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<usize> {
    let sql = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let n: i64 = conn.prepare_cached(&sql)?.query_row(params, |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Referrals matching `filter` (a WHERE clause over `referrals r`), in `order`, at
/// most `limit` of them.
pub(crate) fn referrals_where(
    conn: &Connection,
    filter: &str,
    order: &str,
    limit: Option<usize>,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ReferralRow>> {
    let sql = format!(
        "SELECT {REFERRAL_COLUMNS} FROM referrals r WHERE {filter} ORDER BY {order}{}",
        limit_clause(limit)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let raw: Vec<(ReferralRow, Option<String>)> = stmt
        .query_map(params, |r| Ok((referral_from_row(r)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut names: HashMap<String, Option<PersonName>> = HashMap::new();
    raw.into_iter()
        .map(|(mut row, referrer)| {
            if let Some(id) = referrer {
                if !names.contains_key(&id) {
                    names.insert(id.clone(), person_name(conn, &id)?);
                }
                row.referrer = names.get(&id).cloned().flatten();
            }
            Ok(row)
        })
        .collect()
}

fn referral_from_row(r: &Row<'_>) -> rusqlite::Result<ReferralRow> {
    Ok(ReferralRow {
        id: r.get(0)?,
        interaction_id: r.get(1)?,
        referrer: None,
        name: r.get(3)?,
        person_id: r.get(4)?,
        will_introduce: r.get(5)?,
        will_tell: r.get(6)?,
        may_use_name: r.get(7)?,
        reach: r.get(8)?,
        status: r.get(9)?,
        at: r.get(10)?,
    })
}

const INTERACTION_COLUMNS: &str = "i.id, i.at, i.kind, i.channel, i.talked_about, i.recommended,
    i.observations, i.next_step, i.business_discussed, i.offer_made, i.thank_you,
    i.thank_you_sent_on, i.follow_up_on, i.follow_up_done, i.event_id";

/// Interactions matching `filter` (a WHERE clause over `interactions i`), with their
/// people and referrals, in `order`, at most `limit` of them.
pub(crate) fn interactions_where(
    conn: &Connection,
    filter: &str,
    order: &str,
    limit: Option<usize>,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<InteractionRow>> {
    let sql = format!(
        "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE {filter} ORDER BY {order}{}",
        limit_clause(limit)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let raw: Vec<(InteractionRow, Option<String>)> = stmt
        .query_map(params, |r| {
            Ok((
                InteractionRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    channel: r.get(3)?,
                    people: Vec::new(),
                    talked_about: r.get(4)?,
                    recommended: r.get(5)?,
                    observations: r.get(6)?,
                    next_step: r.get(7)?,
                    business_discussed: r.get(8)?,
                    offer_made: r.get(9)?,
                    thank_you: r.get(10)?,
                    thank_you_sent_on: r.get(11)?,
                    follow_up_on: r.get(12)?,
                    follow_up_done: r.get(13)?,
                    event: None,
                    referrals: Vec::new(),
                    attachments: Vec::new(),
                },
                r.get(14)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut people_stmt = conn.prepare_cached(
        "SELECT p.id, p.name FROM interaction_people ip JOIN people p ON p.id = ip.person_id
         WHERE ip.interaction_id = ?1 ORDER BY ip.position, ip.person_id",
    )?;
    raw.into_iter()
        .map(|(mut row, event)| {
            row.people = people_stmt
                .query_map([&row.id], |r| {
                    Ok(PersonName {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            if let Some(ev) = event {
                row.event = event_name(conn, &ev)?;
            }
            row.referrals = referrals_where(
                conn,
                "r.interaction_id = ?1",
                "r.position, r.id",
                None,
                &[&row.id],
            )?;
            row.attachments = attachments_on(conn, row.id.as_str())?;
            Ok(row)
        })
        .collect()
}
