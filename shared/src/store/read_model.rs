//! Projects documents into the read-model tables and the search index.
//!
//! Each document owns its rows: projecting it deletes them and writes them anew, so
//! applying the same document twice, or rebuilding from scratch, gives the same rows.

use automerge::AutoCommit;
use autosurgeon::hydrate;
use rusqlite::{params, Connection, Transaction};

use crate::model::{DocKind, Event, Interaction, Person};
use crate::{fold, Result};

pub(crate) fn project(
    tx: &Transaction<'_>,
    rowid: i64,
    id: &str,
    kind: DocKind,
    doc: &AutoCommit,
) -> Result<()> {
    match kind {
        DocKind::Person => person(tx, rowid, id, &hydrate(doc)?),
        DocKind::Interaction => interaction(tx, rowid, id, &hydrate(doc)?),
        DocKind::Event => event(tx, id, &hydrate(doc)?),
    }
}

fn set_search(tx: &Transaction<'_>, rowid: i64, body: Option<String>) -> Result<()> {
    tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
        .execute([rowid])?;
    if let Some(body) = body {
        tx.prepare_cached("INSERT INTO search (rowid, body) VALUES (?1, ?2)")?
            .execute(params![rowid, body])?;
    }
    Ok(())
}

fn person(tx: &Transaction<'_>, rowid: i64, id: &str, p: &Person) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO people (id, name, name_key, organisation, role, emails, phones,
            how_met, introduced_by, event_id, tags, notes, created_at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        id,
        p.name,
        fold::name_key(&p.name),
        p.organisation,
        p.role,
        p.emails.join("\n"),
        p.phones.join("\n"),
        p.how_met.as_str(),
        p.introduced_by,
        p.event,
        p.tags.join("\n"),
        p.notes.as_str(),
        p.created_at,
        p.deleted,
    ])?;
    person_keys(tx, id, p)?;
    let body = (!p.deleted).then(|| {
        [
            p.name.as_str(),
            &p.organisation,
            &p.role,
            &p.emails.join(" "),
            &p.phones.join(" "),
            p.how_met.as_str(),
            &p.tags.join(" "),
            p.notes.as_str(),
        ]
        .join("\n")
    });
    set_search(tx, rowid, body)
}

/// The keys an address-book import matches a person on: uid, emails and phones, normalised.
fn person_keys(tx: &Transaction<'_>, id: &str, p: &Person) -> Result<()> {
    tx.prepare_cached("DELETE FROM person_keys WHERE person_id = ?1")?
        .execute([id])?;
    if p.deleted {
        return Ok(());
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO person_keys (kind, key, person_id) VALUES (?1, ?2, ?3)",
    )?;
    for (kind, key) in crate::interop::match_keys(p) {
        ins.execute(params![kind.as_str(), key, id])?;
    }
    Ok(())
}

fn interaction(tx: &Transaction<'_>, rowid: i64, id: &str, i: &Interaction) -> Result<()> {
    let kind = i.kind.as_str();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO interactions (id, at, kind, channel, talked_about, recommended,
            observations, next_step, business_discussed, offer_made, thank_you,
            thank_you_sent_on, follow_up_on, follow_up_done, event_id, created_at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        id,
        i.at,
        kind,
        i.channel.as_str(),
        i.talked_about.as_str(),
        i.recommended.as_str(),
        i.observations.as_str(),
        i.next_step.as_str(),
        i.business_discussed,
        i.offer_made,
        i.thank_you.state(),
        i.thank_you.sent_on(),
        i.follow_up.as_ref().map(|f| f.on.as_str()),
        i.follow_up.as_ref().is_some_and(|f| f.done),
        i.event,
        i.created_at,
        i.deleted,
    ])?;
    tx.prepare_cached("DELETE FROM interaction_people WHERE interaction_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO interaction_people (interaction_id, person_id, position, at, kind, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (pos, person) in i.people.iter().enumerate() {
        ins.execute(params![id, person, pos as i64, i.at, kind, i.deleted])?;
    }
    tx.prepare_cached("DELETE FROM referrals WHERE interaction_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR REPLACE INTO referrals (id, interaction_id, referrer_id, name, person_id,
            will_introduce, will_tell, may_use_name, reach, status, position, at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for (rid, r) in &i.referrals {
        ins.execute(params![
            rid,
            id,
            i.people.first(),
            r.name,
            r.person,
            r.will_introduce,
            r.will_tell,
            r.may_use_name,
            r.reach.as_str(),
            r.status.as_str(),
            r.order,
            i.at,
            i.deleted,
        ])?;
    }
    let body = (!i.deleted).then(|| {
        let mut parts = vec![
            i.talked_about.as_str().to_string(),
            i.recommended.as_str().to_string(),
            i.observations.as_str().to_string(),
            i.next_step.as_str().to_string(),
        ];
        for r in i.referrals.values() {
            parts.push(r.name.clone());
            parts.push(r.reach.as_str().to_string());
        }
        parts.join("\n")
    });
    set_search(tx, rowid, body)
}

fn event(tx: &Transaction<'_>, id: &str, e: &Event) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO events (id, name, name_key, place, date, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        e.name,
        fold::name_key(&e.name),
        e.place,
        e.date,
        e.deleted
    ])?;
    Ok(())
}

const TABLES: [&str; 7] = [
    "people",
    "person_keys",
    "interactions",
    "interaction_people",
    "referrals",
    "events",
    "search",
];

pub(crate) fn clear(tx: &Transaction<'_>) -> Result<()> {
    for table in TABLES {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    Ok(())
}

/// Every read-model row rendered as text, in a stable order.
pub(crate) fn snapshot(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("people", "id"),
        ("person_keys", "kind, key, person_id"),
        ("interactions", "id"),
        ("interaction_people", "interaction_id, person_id"),
        ("referrals", "id"),
        ("events", "id"),
        ("(SELECT docs.id AS doc, search.body AS body FROM search JOIN docs ON docs.rowid = search.rowid)", "doc"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let cells: Vec<String> = (0..n)
                .map(|i| match row.get_ref(i) {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("<{e}>"),
                })
                .collect();
            out.push(format!("{}: {}", table.split_whitespace().next().unwrap_or(table), cells.join(" | ")));
        }
    }
    Ok(out)
}
