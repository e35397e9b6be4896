//! The People list: everyone, most recently talked to first, and instant search.

use rusqlite::params;
use serde::Serialize;

use crate::{fold, Result, Store};

/// One line of the People list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonSummary {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub role: String,
    pub conversations: i64,
    /// Last conversation, ms since the epoch.
    pub last_at: Option<i64>,
    /// Last value call, ms since the epoch.
    pub last_value_at: Option<i64>,
}

/// Every live person with their conversation counts; columns as `summary` reads them.
const SUMMARY: &str = "SELECT p.id AS id, p.name AS name, p.organisation, p.role,
    (SELECT COUNT(*) FROM interaction_people ip WHERE ip.person_id = p.id AND ip.deleted = 0),
    (SELECT MAX(ip.at) FROM interaction_people ip WHERE ip.person_id = p.id AND ip.deleted = 0)
        AS last_at,
    (SELECT MAX(ip.at) FROM interaction_people ip
        WHERE ip.person_id = p.id AND ip.deleted = 0 AND ip.kind = 'value'),
    p.name_key AS name_key
    FROM people p WHERE p.deleted = 0";

const RECENT_FIRST: &str = "last_at IS NULL, last_at DESC, name COLLATE NOCASE";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonSummary> {
    Ok(PersonSummary {
        id: r.get(0)?,
        name: r.get(1)?,
        organisation: r.get(2)?,
        role: r.get(3)?,
        conversations: r.get(4)?,
        last_at: r.get(5)?,
        last_value_at: r.get(6)?,
    })
}

/// How many index hits a search looks at before grouping them by person.
const SEARCH_HITS: i64 = 400;

impl Store {
    /// Everyone, most recently talked to first, then by name.
    pub fn people(&self, limit: usize) -> Result<Vec<PersonSummary>> {
        let sql = format!("SELECT * FROM ({SUMMARY}) ORDER BY {RECENT_FIRST} LIMIT ?1");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([limit as i64], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// People whose name has a word starting with what was typed, for the capture
    /// form's person field: an exact name first, then most recently talked to.
    pub fn people_named_like(&self, typed: &str, limit: usize) -> Result<Vec<PersonSummary>> {
        let key = fold::name_key(typed);
        if key.is_empty() {
            return self.people(limit);
        }
        let sql = format!(
            "SELECT * FROM ({SUMMARY}) WHERE name_key LIKE ?1 || '%' ESCAPE '\\'
                OR name_key LIKE '% ' || ?1 || '%' ESCAPE '\\'
             ORDER BY name_key = ?3 DESC, {RECENT_FIRST} LIMIT ?2"
        );
        let escaped = key
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![escaped, limit as i64, key], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Full-text search over names and every text field of people and their
    /// conversations: every word must match as a prefix, accents and case ignored.
    /// People whose own record matches come first, then by most recent conversation.
    pub fn search_people(&self, query: &str, limit: usize) -> Result<Vec<PersonSummary>> {
        let Some(fts) = fold::fts_prefix_query(query) else {
            return self.people(limit);
        };
        // The summaries are computed only for the matched people: without the `IN`
        // filter SQLite computes them for everyone before joining.
        let sql = format!(
            "WITH hits AS (SELECT rowid FROM search WHERE search MATCH ?1 LIMIT ?2),
             matched AS (
                SELECT d.id AS person_id, 0 AS own FROM hits JOIN docs d ON d.rowid = hits.rowid
                    WHERE d.kind = 'person'
                UNION ALL
                SELECT ip.person_id, 1 FROM hits JOIN docs d ON d.rowid = hits.rowid
                    JOIN interaction_people ip ON ip.interaction_id = d.id
                    WHERE d.kind = 'interaction' AND ip.deleted = 0
             ),
             ranked AS (SELECT person_id, MIN(own) AS own FROM matched GROUP BY person_id)
             SELECT s.* FROM ranked
             JOIN ({SUMMARY} AND p.id IN (SELECT person_id FROM ranked)) s
                ON s.id = ranked.person_id
             ORDER BY ranked.own, {RECENT_FIRST} LIMIT ?3"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![fts, SEARCH_HITS, limit as i64], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
