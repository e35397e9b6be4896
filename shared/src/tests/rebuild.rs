//! The read model is derived data: rebuilding it from documents gives the same rows.

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Takes the changes of migrations after 9 back out of a store's file, for the
/// stories that open a file of an older schema: 11's merged people, 10's cadences.
const AFTER_9: &str = "DROP INDEX people_merged_into; DROP INDEX people_kept_id; \
    ALTER TABLE people DROP COLUMN merged_into; ALTER TABLE people DROP COLUMN kept_id; \
    DROP TABLE redirects_dirty; DROP INDEX people_cadence; \
    ALTER TABLE people DROP COLUMN cadence; ALTER TABLE people DROP COLUMN cadence_since; \
    DROP TABLE attachments; DROP TABLE blobs; DROP TABLE blob_chunks; DROP TABLE blobs_wanted;";

#[test]
fn rebuilding_the_read_model_reproduces_it_exactly_after_random_histories() {
    for seed in 0..6u64 {
        let mut f = fixture(100 + seed);
        let mut rng = SeededEntropy::new(seed);
        for _ in 0..60 {
            random_step(
                &mut f.store,
                &mut rng,
                &["Ana", "Bob Stone", "Cleo", "Dan", "Élodie"],
            );
            f.clock.advance(chrono::Duration::minutes(7));
        }
        let incremental = f.store.read_model_snapshot().unwrap();
        assert!(incremental.len() > 60, "the history wrote rows");
        f.store.rebuild_read_model().unwrap();
        let rebuilt = f.store.read_model_snapshot().unwrap();
        assert_eq!(incremental, rebuilt, "seed {seed}");
    }
}

#[test]
fn a_store_filled_only_from_the_own_log_matches_the_original() {
    let mut f = fixture(200);
    let mut rng = SeededEntropy::new(7);
    for _ in 0..50 {
        random_step(&mut f.store, &mut rng, &["Ana", "Bob", "Cleo"]);
    }
    let mut copy = fixture(201);
    for entry in f.store.own_log_after(0, 1000).unwrap() {
        assert!(copy
            .store
            .apply_remote_entry(f.store.device_id(), entry.0, &entry.1)
            .unwrap());
    }
    assert_eq!(
        copy.store.read_model_snapshot().unwrap(),
        f.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn a_store_from_before_the_counts_and_split_index_gains_them_when_opened() {
    let mut f = fixture(300);
    let mut rng = SeededEntropy::new(3);
    for _ in 0..40 {
        random_step(&mut f.store, &mut rng, &["Ana", "Bob", "Cleo", "Dan"]);
        f.clock.advance(chrono::Duration::minutes(3));
    }
    let expected = f.store.read_model_snapshot().unwrap();
    let people = f.store.people(10).unwrap();
    assert!(people.iter().any(|p| p.conversations > 0));
    // Take the file back to schema 4: no counts, no vocabulary, a one-column index.
    index_as_written(&f.store, &["search"]);
    f.store
        .conn()
        .execute_batch(&format!("DROP TABLE person_stats; DROP TABLE search_vocab; DROP TABLE entry_fragments; DROP TABLE meetings; DROP TABLE meeting_attendees; {AFTER_9} PRAGMA user_version = 4;"))
        .unwrap();
    drop(f.store);
    let reopened = open_store(f.dir.path(), &f.clock, 301);
    assert_eq!(reopened.read_model_snapshot().unwrap(), expected);
    assert_eq!(reopened.people(10).unwrap(), people);
    let words: i64 = reopened
        .conn()
        .query_row("SELECT COUNT(*) FROM search_vocab", [], |r| r.get(0))
        .unwrap();
    assert!(words > 0, "the vocabulary is filled from the index");
    let name = &people[0].name;
    assert_eq!(
        reopened.search_people(name, 5).unwrap()[0].name,
        *name,
        "the split index answers"
    );
}

#[test]
fn a_store_from_before_folded_search_text_finds_greek_without_accents_once_opened() {
    let mut f = fixture(310);
    f.store
        .capture(&chat("Eleni", InteractionKind::Value, "Ταξίδι στην Ελλάδα"))
        .unwrap();
    // Schema 5 indexed the text as written.
    index_as_written(&f.store, &["search_own", "search_notes"]);
    f.store
        .conn()
        .execute_batch(&format!(
            "DELETE FROM search_vocab; DROP TABLE entry_fragments; DROP TABLE meetings; \
             DROP TABLE meeting_attendees; {AFTER_9} PRAGMA user_version = 5;"
        ))
        .unwrap();
    // (Asked of the index itself: today's search reads columns schema 5 lacks.)
    let hits: i64 = f
        .store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM search_notes WHERE search_notes MATCH 'ελλαδα'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 0, "schema 5 missed a word typed without its accent");
    drop(f.store);
    let reopened = open_store(f.dir.path(), &f.clock, 311);
    let found = reopened.search_people("Ελλαδα", 5).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let words: Vec<String> = reopened
        .conn()
        .prepare("SELECT term FROM search_vocab ORDER BY term")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        words,
        ["eleni", "ελλαδα", "στην", "ταξιδι"],
        "the index holds the folded words"
    );
}

/// Replaces the search indexes with how schemas 4 to 6 kept them: the text as written,
/// a copy of it in the index, in one index (`["search"]`) or in two.
fn index_as_written(store: &Store, tables: &[&str]) {
    let conn = store.conn();
    conn.execute_batch("DROP TABLE search_own; DROP TABLE search_notes;")
        .unwrap();
    for table in tables {
        conn.execute_batch(&format!(
            r#"CREATE VIRTUAL TABLE {table} USING fts5(
                body, tokenize = "unicode61 remove_diacritics 2", prefix = '1 2 3');"#
        ))
        .unwrap();
    }
    for (rowid, table, text) in store.search_texts().unwrap() {
        let table = if tables.len() == 1 { tables[0] } else { table };
        conn.execute(
            &format!("INSERT INTO {table} (rowid, body) VALUES (?1, ?2)"),
            rusqlite::params![rowid, text],
        )
        .unwrap();
    }
}
