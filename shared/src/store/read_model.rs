//! Projects documents into the read-model tables and the search index.
//!
//! Each document owns its rows: projecting it deletes them and writes them anew, so
//! applying the same document twice, or rebuilding from scratch, gives the same rows.

use automerge::AutoCommit;
use autosurgeon::hydrate;
use rusqlite::{params, OptionalExtension, Transaction};

use std::collections::BTreeMap;

use crate::model::{
    Attachment, AttachmentId, BlobHash, DocKind, Event, Interaction, Meeting, Person, Record,
};
use crate::{fold, Result};

/// Writes the rows of one document, and the conversation counts of the people it touches.
pub(crate) fn project(
    tx: &Transaction<'_>,
    rowid: i64,
    id: &str,
    kind: DocKind,
    doc: &AutoCommit,
    rows: Rows,
) -> Result<()> {
    project_record(tx, rowid, id, &decode(kind, doc)?, rows)
}

/// Writes the rows of a record whose document holds exactly it (a local write knows
/// the value it has just written, so the document need not be read back). `rows` is
/// `Replace` or `New`.
pub(crate) fn project_record(
    tx: &Transaction<'_>,
    rowid: i64,
    id: &str,
    record: &Record,
    rows: Rows,
) -> Result<()> {
    for person in write_rows(tx, rowid, id, record, rows)? {
        refresh_stats(tx, &person)?;
    }
    Ok(())
}

/// How a document's rows are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    /// In place of the rows the document had.
    Replace,
    /// The first rows of a document new to this store: nothing to delete first. (The
    /// search indexes keep no copy of their text, so deleting a row they never had
    /// would still write a tombstone for it.)
    New,
    /// Into tables just cleared by a rebuild: nothing to delete first, and the search
    /// vocabulary and conversation counts are filled once at the end.
    Fresh,
}

/// Reads a document into its record (the costly half of projecting, and the half
/// that needs no database, so a rebuild does it on other threads).
pub(crate) fn decode(kind: DocKind, doc: &AutoCommit) -> Result<Record> {
    Ok(match kind {
        DocKind::Person => Record::Person(hydrate(doc)?),
        DocKind::Interaction => Record::Interaction(hydrate(doc)?),
        DocKind::Event => Record::Event(hydrate(doc)?),
        DocKind::Meeting => Record::Meeting(hydrate(doc)?),
    })
}

/// Reads a stored document's bytes into its record. These documents were checked when
/// they were stored, so the hashes of their heads are not checked again.
pub(crate) fn decode_stored(kind: DocKind, bytes: &[u8]) -> Result<Record> {
    let options =
        automerge::LoadOptions::new().verification_mode(automerge::VerificationMode::DontCheck);
    decode(kind, &AutoCommit::load_with_options(bytes, options)?)
}

/// Writes the rows of one decoded document; returns the people whose conversation
/// counts it may have changed (the caller refreshes them, or all at once after a
/// rebuild).
pub(crate) fn write_rows(
    tx: &Transaction<'_>,
    rowid: i64,
    id: &str,
    record: &Record,
    rows: Rows,
) -> Result<Vec<String>> {
    match record {
        Record::Person(p) => person(tx, rowid, id, p, rows).map(|()| Vec::new()),
        Record::Interaction(i) => interaction(tx, rowid, id, i, rows),
        Record::Event(e) => event(tx, id, e).map(|()| Vec::new()),
        Record::Meeting(m) => meeting(tx, id, m, rows).map(|()| Vec::new()),
    }
}

/// What the People list shows of a person's conversations, in one row per person
/// who has any: counting them on every list or search would cost a scan per person.
const STATS: &str = "SELECT person_id, COUNT(*), MAX(at), MAX(CASE WHEN kind = 'value' THEN at END)
    FROM interaction_people WHERE deleted = 0";

fn refresh_stats(tx: &Transaction<'_>, person: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM person_stats WHERE person_id = ?1")?
        .execute([person])?;
    tx.prepare_cached(&format!(
        "INSERT INTO person_stats (person_id, conversations, last_at, last_value_at)
         {STATS} AND person_id = ?1 GROUP BY person_id"
    ))?
    .execute([person])?;
    Ok(())
}

/// Fills what a rebuild's `Rows::Fresh` writes leave out: every person's conversation
/// counts and the search vocabulary, each in one statement.
pub(crate) fn finish_fresh(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "CREATE VIRTUAL TABLE temp.own_words USING fts5vocab(main, search_own, 'row');
         CREATE VIRTUAL TABLE temp.notes_words USING fts5vocab(main, search_notes, 'row');
         INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.own_words;
         INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.notes_words;
         DROP TABLE temp.own_words;
         DROP TABLE temp.notes_words;",
    )?;
    rebuild_stats(tx)
}

/// Recomputes every person's conversation counts at once.
fn rebuild_stats(tx: &Transaction<'_>) -> Result<()> {
    tx.execute("DELETE FROM person_stats", [])?;
    tx.execute(
        &format!(
            "INSERT INTO person_stats (person_id, conversations, last_at, last_value_at)
             {STATS} GROUP BY person_id"
        ),
        [],
    )?;
    Ok(())
}

/// Which search index a document's text goes to.
#[derive(Clone, Copy)]
enum Column {
    /// A person's own record.
    Own,
    /// A conversation's notes.
    Notes,
}

impl Column {
    fn table(self) -> &'static str {
        match self {
            Column::Own => "search_own",
            Column::Notes => "search_notes",
        }
    }
}

fn set_search(
    tx: &Transaction<'_>,
    rowid: i64,
    column: Column,
    body: Option<String>,
    rows: Rows,
) -> Result<()> {
    if rows == Rows::Replace {
        tx.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", column.table()))?
            .execute([rowid])?;
    }
    let Some(body) = body else {
        return Ok(());
    };
    // Stored as the search folds it, so every script matches without its accents.
    let folded = fold::fold(&body);
    if rows != Rows::Fresh {
        let mut vocab =
            tx.prepare_cached("INSERT OR IGNORE INTO search_vocab (term) VALUES (?1)")?;
        let mut seen = std::collections::HashSet::new();
        for term in fold::words(&folded) {
            if seen.insert(term) {
                vocab.execute([term])?;
            }
        }
    }
    tx.prepare_cached(&format!(
        "INSERT INTO {} (rowid, body) VALUES (?1, ?2)",
        column.table()
    ))?
    .execute(params![rowid, folded])?;
    Ok(())
}

fn person(tx: &Transaction<'_>, rowid: i64, id: &str, p: &Person, rows: Rows) -> Result<()> {
    // Who the person resolves to is worked out across people (`redirects`); a write
    // of the person keeps it, and notes when it may have changed.
    let (old_merged, kept): (Option<String>, Option<String>) = if rows == Rows::Replace {
        tx.prepare_cached("SELECT merged_into, kept_id FROM people WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_default()
    } else {
        (None, None)
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO people (id, name, name_key, organisation, role, emails, phones,
            how_met, introduced_by, event_id, tags, notes, created_at, deleted, merged_into,
            kept_id, cadence, cadence_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
        // A merged-away person leaves every list as a deleted one does.
        p.deleted || kept.is_some(),
        p.merged_into,
        kept,
        p.cadence,
        p.cadence.map(|_| p.cadence_since),
    ])?;
    person_keys(tx, id, p, rows)?;
    attachment_rows(tx, id, DocKind::Person, &p.attachments, p.deleted, rows)?;
    if rows != Rows::Fresh
        && (p.merged_into.is_some()
            || old_merged.is_some()
            || kept.is_some()
            || redirects_touch(tx, id)?)
    {
        mark_redirects_dirty(tx, id)?;
    }
    set_search(tx, rowid, Column::Own, person_text(p), rows)
}

/// Whether others resolve to this person or are merged into it, or share its
/// address-book uid: then a change of it may change whom they resolve to.
fn redirects_touch(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM people WHERE kept_id = ?1 OR merged_into = ?1)
                OR EXISTS (SELECT 1 FROM person_keys k JOIN person_keys o
                    ON o.kind = k.kind AND o.key = k.key AND o.person_id != k.person_id
                    WHERE k.person_id = ?1 AND k.kind = 'uid')",
        )?
        .query_row([id], |r| r.get(0))?)
}

/// Notes that whom people resolve to must be worked out again before the write ends.
pub(crate) fn mark_redirects_dirty(tx: &Transaction<'_>, id: &str) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO redirects_dirty (person_id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

/// The person `id` resolves to: the person kept when it was merged, else itself.
pub(crate) fn kept_person(conn: &rusqlite::Connection, id: &str) -> Result<String> {
    let kept: Option<Option<String>> = conn
        .prepare_cached("SELECT kept_id FROM people WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(kept.flatten().unwrap_or_else(|| id.to_string()))
}

/// The text a person is found by, as written (`None` once deleted).
fn person_text(p: &Person) -> Option<String> {
    (!p.deleted).then(|| {
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
    })
}

/// The keys an address-book import matches a person on: uid, emails and phones, normalised.
fn person_keys(tx: &Transaction<'_>, id: &str, p: &Person, rows: Rows) -> Result<()> {
    if rows == Rows::Replace {
        tx.prepare_cached("DELETE FROM person_keys WHERE person_id = ?1")?
            .execute([id])?;
    }
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

fn interaction(
    tx: &Transaction<'_>,
    rowid: i64,
    id: &str,
    i: &Interaction,
    rows: Rows,
) -> Result<Vec<String>> {
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
        i.follow_up.as_ref().map(|f| f.on),
        i.follow_up.as_ref().is_some_and(|f| f.done),
        i.event,
        i.created_at,
        i.deleted,
    ])?;
    // The people whose counts change: those it was and is with (a rebuild counts all).
    let mut touched = Vec::new();
    if rows == Rows::Replace {
        touched = tx
            .prepare_cached("SELECT person_id FROM interaction_people WHERE interaction_id = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tx.prepare_cached("DELETE FROM interaction_people WHERE interaction_id = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM referrals WHERE interaction_id = ?1")?
            .execute([id])?;
    }
    // The people as they resolve now: a conversation written with a person merged
    // away since is the kept person's (`redirects` projects it again when that changes).
    let people = i
        .people
        .iter()
        .map(|p| kept_person(tx, p))
        .collect::<Result<Vec<_>>>()?;
    if rows != Rows::Fresh {
        touched.extend(people.iter().cloned());
        touched.sort();
        touched.dedup();
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO interaction_people (interaction_id, person_id, position, at, kind, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (pos, person) in people.iter().enumerate() {
        ins.execute(params![id, person, pos as i64, i.at, kind, i.deleted])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR REPLACE INTO referrals (id, interaction_id, referrer_id, name, person_id,
            will_introduce, will_tell, may_use_name, reach, status, position, at, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for (rid, r) in &i.referrals {
        let person = r
            .person
            .as_deref()
            .map(|p| kept_person(tx, p))
            .transpose()?;
        ins.execute(params![
            rid,
            id,
            people.first(),
            r.name,
            person,
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
    attachment_rows(
        tx,
        id,
        DocKind::Interaction,
        &i.attachments,
        i.deleted,
        rows,
    )?;
    set_search(tx, rowid, Column::Notes, interaction_text(i), rows)?;
    Ok(touched)
}

/// Writes the rows of a record's attachments; content the record referred to and
/// nothing refers to any more is deleted.
fn attachment_rows(
    tx: &Transaction<'_>,
    owner: &str,
    kind: DocKind,
    attachments: &BTreeMap<AttachmentId, Attachment>,
    deleted: bool,
    rows: Rows,
) -> Result<()> {
    let mut before: Vec<BlobHash> = Vec::new();
    if rows == Rows::Replace {
        before = tx
            .prepare_cached("SELECT blob FROM attachments WHERE owner_id = ?1")?
            .query_map([owner], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !before.is_empty() {
            tx.prepare_cached("DELETE FROM attachments WHERE owner_id = ?1")?
                .execute([owner])?;
        }
    }
    if !attachments.is_empty() {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO attachments (id, owner_id, owner_kind, blob, name, media_type,
                size, added_at, deleted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (aid, a) in attachments {
            ins.execute(params![
                aid,
                owner,
                kind.as_str(),
                a.blob,
                a.name,
                a.media_type,
                i64::try_from(a.size).unwrap_or(i64::MAX),
                a.added_at,
                deleted,
            ])?;
        }
    }
    before.retain(|h| !attachments.values().any(|a| a.blob == *h));
    before.sort();
    before.dedup();
    super::blobs::collect(tx, &before)
}

/// The text a conversation is found by, as written (`None` once deleted).
fn interaction_text(i: &Interaction) -> Option<String> {
    (!i.deleted).then(|| {
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
    })
}

/// The search index a record's text goes to, and that text as written, unfolded
/// (`None` for a deleted record and for an event, which is not searched).
#[cfg(test)]
pub(crate) fn search_text(record: &Record) -> Option<(&'static str, String)> {
    match record {
        Record::Person(p) => person_text(p).map(|t| (Column::Own.table(), t)),
        Record::Interaction(i) => interaction_text(i).map(|t| (Column::Notes.table(), t)),
        Record::Event(_) | Record::Meeting(_) => None,
    }
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
        e.day(),
        e.deleted
    ])?;
    Ok(())
}

/// A meeting's row and its attendees' rows (the organiser after them, when not
/// also invited).
fn meeting(tx: &Transaction<'_>, id: &str, m: &Meeting, rows: Rows) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO meetings (id, calendar_uid, recurrence_id, start_at, end_at,
            all_day, summary, location, link, cancelled, prompt, interaction_id, others, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        id,
        m.calendar_uid,
        m.recurrence_id,
        m.start,
        m.end,
        m.all_day,
        m.summary,
        m.location,
        m.link,
        m.cancelled,
        m.prompt.state(),
        m.prompt.interaction(),
        m.others().count() as i64,
        m.deleted,
    ])?;
    if rows == Rows::Replace {
        tx.prepare_cached("DELETE FROM meeting_attendees WHERE meeting_id = ?1")?
            .execute([id])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO meeting_attendees (meeting_id, email, name, position, organiser,
            is_owner, declined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let organiser = m.organiser.iter().map(|a| (a, true));
    for (position, (a, organises)) in m
        .attendees
        .iter()
        .map(|a| (a, m.organiser.as_ref().is_some_and(|o| o.email == a.email)))
        .chain(organiser)
        .enumerate()
    {
        ins.execute(params![
            id,
            a.email,
            a.name,
            position as i64,
            organises,
            a.is_owner,
            a.declined
        ])?;
    }
    Ok(())
}

const TABLES: [&str; 14] = [
    "people",
    "attachments",
    "redirects_dirty",
    "person_keys",
    "interactions",
    "interaction_people",
    "person_stats",
    "referrals",
    "events",
    "meetings",
    "meeting_attendees",
    "search_own",
    "search_notes",
    "search_vocab",
];

pub(crate) fn clear(tx: &Transaction<'_>) -> Result<()> {
    for table in TABLES {
        if table.starts_with("search_") && table != "search_vocab" {
            // Deleting an FTS5 table's rows re-reads and re-tokenizes each one to take
            // it out of the index; dropping the table and making it again as the
            // schema defines it is immediate.
            let create: String = tx.query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            tx.execute_batch(&format!("DROP TABLE {table}; {create};"))?;
        } else {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
    }
    Ok(())
}

/// Every read-model row rendered as text, in a stable order. The search indexes keep
/// no copy of their text: each word they hold is listed with its record and place.
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn snapshot(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.own_words
            USING fts5vocab(main, search_own, 'instance');
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.notes_words
            USING fts5vocab(main, search_notes, 'instance');",
    )?;
    for (table, order) in [
        ("people", "id"),
        ("person_keys", "kind, key, person_id"),
        ("interactions", "id"),
        ("interaction_people", "interaction_id, person_id"),
        ("person_stats", "person_id"),
        ("referrals", "id"),
        ("events", "id"),
        ("meetings", "id"),
        ("meeting_attendees", "meeting_id, email"),
        ("attachments", "id"),
        ("(SELECT docs.id AS doc, w.term AS own, w.offset FROM temp.own_words w JOIN docs ON docs.rowid = w.doc)", "doc, offset, own"),
        ("(SELECT docs.id AS doc, w.term AS notes, w.offset FROM temp.notes_words w JOIN docs ON docs.rowid = w.doc)", "doc, offset, notes"),
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
    conn.execute_batch("DROP TABLE temp.own_words; DROP TABLE temp.notes_words;")?;
    Ok(out)
}
