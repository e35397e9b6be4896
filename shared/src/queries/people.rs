//! The People list: everyone, most recently talked to first, and instant search.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::model::PersonId;
use crate::{fold, Result, Store};

/// One line of the People list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub id: PersonId,
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
    COALESCE(st.conversations, 0), st.last_at AS last_at, st.last_value_at,
    p.name_key AS name_key
    FROM people p LEFT JOIN person_stats st ON st.person_id = p.id WHERE p.deleted = 0";

/// Most recently talked to first, then by name; people of one name by id, so every
/// device lists (and cuts a `--limit`) alike.
const RECENT_FIRST: &str = "last_at IS NULL, last_at DESC, name COLLATE NOCASE, id";

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

/// How many conversations a search looks at (the newest matches) before grouping them
/// by person.
const SEARCH_HITS: i64 = 400;

/// A typed word that begins more whole words than this is searched as a prefix.
const MAX_EXPANSION: usize = 64;

/// Words this short are answered by the index's own prefix tables.
const INDEXED_PREFIX: usize = 3;

impl Store {
    /// Everyone, most recently talked to first, then by name.
    pub fn people(&self, limit: usize) -> Result<Vec<PersonSummary>> {
        let sql = format!("SELECT * FROM ({SUMMARY}) ORDER BY {RECENT_FIRST} LIMIT ?1");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([limit as i64], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// People whose name has a word starting with what was typed, for the capture
    /// form's person field: an exact name first, then most recently talked to. The
    /// name of a person merged away finds the person kept.
    pub fn people_named_like(&self, typed: &str, limit: usize) -> Result<Vec<PersonSummary>> {
        let key = fold::name_key(typed);
        if key.is_empty() {
            return self.people(limit);
        }
        let sql = format!(
            "SELECT * FROM ({SUMMARY}) WHERE id IN (SELECT COALESCE(kept_id, id) FROM people
                WHERE name_key LIKE ?1 || '%' ESCAPE '\\'
                    OR name_key LIKE '% ' || ?1 || '%' ESCAPE '\\')
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
    /// A person merged away is found as the person kept.
    pub fn search_people(&self, query: &str, limit: usize) -> Result<Vec<PersonSummary>> {
        let Some(fts) = self.fts_query(query)? else {
            return self.people(limit);
        };
        // People whose own record matches, then people whose conversations do, each
        // newest first. CROSS JOIN keeps SQLite from scanning every document to meet
        // the hits.
        let sql = format!(
            "WITH own AS (SELECT rowid FROM search_own WHERE search_own MATCH ?1
                    ORDER BY rowid DESC LIMIT ?3),
             notes AS (SELECT rowid FROM search_notes WHERE search_notes MATCH ?1
                    ORDER BY rowid DESC LIMIT ?2),
             matched AS (
                SELECT COALESCE(p.kept_id, d.id) AS person_id, 0 AS own FROM own
                    CROSS JOIN docs d ON d.rowid = own.rowid
                    LEFT JOIN people p ON p.id = d.id
                UNION ALL
                SELECT ip.person_id, 1 FROM notes CROSS JOIN docs d ON d.rowid = notes.rowid
                    CROSS JOIN interaction_people ip ON ip.interaction_id = d.id
                    WHERE ip.deleted = 0
             ),
             ranked AS (SELECT person_id, MIN(own) AS own FROM matched GROUP BY person_id)
             SELECT s.* FROM ranked CROSS JOIN ({SUMMARY}) s ON s.id = ranked.person_id
             ORDER BY ranked.own, {RECENT_FIRST} LIMIT ?3"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![fts, SEARCH_HITS, limit as i64], summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The index query for what was typed: every word must begin a word of the record.
    /// A word is expanded into the whole words it begins (from `search_vocab`), which
    /// the index reads lazily, newest first; a prefix query would gather every match
    /// before returning the first. Short words use the index's prefix tables, and
    /// words that begin too many words, or none the vocabulary knows, stay prefixes.
    fn fts_query(&self, typed: &str) -> Result<Option<String>> {
        let words = fold::search_terms(typed);
        if words.is_empty() {
            return Ok(None);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT term FROM search_vocab WHERE term >= ?1 AND term < ?1 || char(1114111)
             ORDER BY term LIMIT ?2",
        )?;
        let mut clauses = Vec::with_capacity(words.len());
        for word in &words {
            if word.chars().count() <= INDEXED_PREFIX || !word.is_ascii() {
                clauses.push(fold::fts_prefix(word));
                continue;
            }
            let terms: Vec<String> = stmt
                .query_map(params![word, MAX_EXPANSION as i64 + 1], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if terms.is_empty() || terms.len() > MAX_EXPANSION {
                clauses.push(fold::fts_prefix(word));
            } else {
                let any: Vec<String> = terms.iter().map(|t| fold::fts_term(t)).collect();
                clauses.push(format!("({})", any.join(" OR ")));
            }
        }
        Ok(Some(clauses.join(" AND ")))
    }
}
