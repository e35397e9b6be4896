//! Numbered schema migrations. Append new ones at the end; never edit one that shipped.

/// The schema version from which stores have the attachments' rows (migration 12).
pub(crate) const ATTACHMENTS: usize = 12;

/// Migration `i` moves the store from `PRAGMA user_version = i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: documents, the read model, the search index, this device's log, cursors.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    -- One Automerge document per record; rowid doubles as the search index row.
    CREATE TABLE docs (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        bytes BLOB NOT NULL
    );

    -- Read model: plain rows rebuilt from documents; lists and searches read only these.
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        organisation TEXT NOT NULL,
        role TEXT NOT NULL,
        emails TEXT NOT NULL,
        phones TEXT NOT NULL,
        how_met TEXT NOT NULL,
        introduced_by TEXT,
        event_id TEXT,
        tags TEXT NOT NULL,
        notes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX people_name_key ON people(name_key);
    CREATE INDEX people_introduced_by ON people(introduced_by);

    CREATE TABLE interactions (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        talked_about TEXT NOT NULL,
        recommended TEXT NOT NULL,
        observations TEXT NOT NULL,
        next_step TEXT NOT NULL,
        business_discussed INTEGER NOT NULL,
        offer_made INTEGER NOT NULL,
        thank_you TEXT NOT NULL,
        thank_you_sent_on TEXT,
        follow_up_on TEXT,
        follow_up_done INTEGER NOT NULL,
        event_id TEXT,
        created_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX interactions_at ON interactions(at);
    CREATE INDEX interactions_thank_you ON interactions(thank_you) WHERE thank_you = 'to_send';
    CREATE INDEX interactions_follow_up ON interactions(follow_up_on) WHERE follow_up_done = 0;

    CREATE TABLE interaction_people (
        interaction_id TEXT NOT NULL,
        person_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        PRIMARY KEY (interaction_id, person_id)
    ) WITHOUT ROWID;
    CREATE INDEX interaction_people_person ON interaction_people(person_id, at);

    CREATE TABLE referrals (
        id TEXT PRIMARY KEY,
        interaction_id TEXT NOT NULL,
        referrer_id TEXT,
        name TEXT NOT NULL,
        person_id TEXT,
        will_introduce INTEGER NOT NULL,
        will_tell INTEGER NOT NULL,
        may_use_name INTEGER NOT NULL,
        reach TEXT NOT NULL,
        status TEXT NOT NULL,
        position INTEGER NOT NULL,
        at INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX referrals_interaction ON referrals(interaction_id);
    CREATE INDEX referrals_referrer ON referrals(referrer_id);
    CREATE INDEX referrals_person ON referrals(person_id);
    CREATE INDEX referrals_open ON referrals(status) WHERE status IN ('suggested', 'intro-asked');

    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        place TEXT NOT NULL,
        date TEXT NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX events_name_key ON events(name_key);

    -- Full-text index over names and every text field; rowid = docs.rowid.
    CREATE VIRTUAL TABLE search USING fts5(
        body,
        tokenize = "unicode61 remove_diacritics 2",
        prefix = '1 2 3'
    );

    -- This device's own append-only log: one entry per local write.
    CREATE TABLE own_log (
        seq INTEGER PRIMARY KEY,
        payload BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );

    -- Changes that arrived before the changes they build on (from a third device);
    -- kept until those arrive, then applied.
    CREATE TABLE pending_changes (
        doc_id TEXT NOT NULL,
        bytes BLOB NOT NULL
    );
    CREATE INDEX pending_changes_doc ON pending_changes(doc_id);

    -- For every other device, the last sequence number applied here.
    CREATE TABLE cursors (
        device TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    "#,
    // 2: the keys an address-book import matches people on (uid, email, phone).
    r#"
    CREATE TABLE person_keys (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        person_id TEXT NOT NULL,
        PRIMARY KEY (kind, key, person_id)
    ) WITHOUT ROWID;
    CREATE INDEX person_keys_person ON person_keys(person_id);
    "#,
    // 3: sync entries set aside: a gap, a forged or damaged entry, one that does not parse.
    r#"
    CREATE TABLE quarantine (
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        reason TEXT NOT NULL,
        sealed BLOB NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;
    "#,
    // 4: Today's lists read their first page in order straight from an index.
    r#"
    DROP INDEX interactions_thank_you;
    DROP INDEX interactions_follow_up;
    DROP INDEX referrals_open;
    CREATE INDEX interactions_thank_you_due ON interactions(at, id)
        WHERE thank_you = 'to_send' AND deleted = 0;
    CREATE INDEX interactions_follow_up_due ON interactions(follow_up_on, at, id)
        WHERE follow_up_done = 0 AND deleted = 0;
    CREATE INDEX referrals_open_due ON referrals(at, position, id)
        WHERE status IN ('suggested', 'intro-asked') AND deleted = 0;
    "#,
    // 5: each person's conversation counts kept as rows; the search index split in
    // two, people's own records and conversation notes; the words they hold.
    r#"
    CREATE TABLE person_stats (
        person_id TEXT PRIMARY KEY,
        conversations INTEGER NOT NULL,
        last_at INTEGER,
        last_value_at INTEGER
    ) WITHOUT ROWID;
    DROP INDEX interaction_people_person;
    CREATE INDEX interaction_people_person ON interaction_people(person_id, at, kind, deleted);
    INSERT INTO person_stats (person_id, conversations, last_at, last_value_at)
        SELECT person_id, COUNT(*), MAX(at), MAX(CASE WHEN kind = 'value' THEN at END)
        FROM interaction_people WHERE deleted = 0 GROUP BY person_id;

    -- The search index in two: people's own records, and the notes of
    -- conversations; a search asks each for its newest matches.
    CREATE VIRTUAL TABLE search_own USING fts5(
        body,
        tokenize = "unicode61 remove_diacritics 2",
        prefix = '1 2 3'
    );
    CREATE VIRTUAL TABLE search_notes USING fts5(
        body,
        tokenize = "unicode61 remove_diacritics 2",
        prefix = '1 2 3'
    );
    INSERT INTO search_own (rowid, body)
        SELECT s.rowid, s.body FROM search s JOIN docs d ON d.rowid = s.rowid
        WHERE d.kind = 'person';
    INSERT INTO search_notes (rowid, body)
        SELECT s.rowid, s.body FROM search s JOIN docs d ON d.rowid = s.rowid
        WHERE d.kind <> 'person';
    DROP TABLE search;
    INSERT INTO search_own (search_own) VALUES ('optimize');
    INSERT INTO search_notes (search_notes) VALUES ('optimize');

    -- Every word the search index holds (words of deleted records may linger):
    -- a search expands what was typed into the whole words it begins, which the
    -- index answers page by page instead of gathering every match first.
    CREATE TABLE search_vocab (term TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE VIRTUAL TABLE temp.own_words USING fts5vocab(main, search_own, 'row');
    CREATE VIRTUAL TABLE temp.notes_words USING fts5vocab(main, search_notes, 'row');
    INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.own_words;
    INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.notes_words;
    DROP TABLE temp.own_words;
    DROP TABLE temp.notes_words;
    "#,
    // 6: search text is indexed as the search folds it (`aftercall_fold`, the store's
    // own function): FTS5's diacritic removal leaves the accents of Greek and other
    // scripts, so a word typed without them missed. The vocabulary is refilled.
    r#"
    UPDATE search_own SET body = aftercall_fold(body);
    UPDATE search_notes SET body = aftercall_fold(body);
    INSERT INTO search_own (search_own) VALUES ('optimize');
    INSERT INTO search_notes (search_notes) VALUES ('optimize');
    DELETE FROM search_vocab;
    CREATE VIRTUAL TABLE temp.own_words USING fts5vocab(main, search_own, 'row');
    CREATE VIRTUAL TABLE temp.notes_words USING fts5vocab(main, search_notes, 'row');
    INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.own_words;
    INSERT OR IGNORE INTO search_vocab (term) SELECT term FROM temp.notes_words;
    DROP TABLE temp.own_words;
    DROP TABLE temp.notes_words;
    "#,
    // 7: fewer pages written per save. The search indexes keep no copy of the text
    // they index (the documents and read-model rows hold it), and they merge their
    // segments when `Store::checkpoint` asks, between saves, not inside whichever
    // save crosses FTS5's work unit. A conversation without a follow-up date has no
    // entry in the follow-up index (each save wrote one, under NULL, that no query
    // reads).
    r#"
    CREATE VIRTUAL TABLE search_own_7 USING fts5(
        body,
        tokenize = "unicode61 remove_diacritics 2",
        prefix = '1 2 3',
        content = '',
        contentless_delete = 1
    );
    INSERT INTO search_own_7 (rowid, body) SELECT rowid, body FROM search_own;
    DROP TABLE search_own;
    ALTER TABLE search_own_7 RENAME TO search_own;
    INSERT INTO search_own (search_own) VALUES ('optimize');
    CREATE VIRTUAL TABLE search_notes_7 USING fts5(
        body,
        tokenize = "unicode61 remove_diacritics 2",
        prefix = '1 2 3',
        content = '',
        contentless_delete = 1
    );
    INSERT INTO search_notes_7 (rowid, body) SELECT rowid, body FROM search_notes;
    DROP TABLE search_notes;
    ALTER TABLE search_notes_7 RENAME TO search_notes;
    INSERT INTO search_notes (search_notes) VALUES ('optimize');
    INSERT INTO search_own (search_own, rank) VALUES ('automerge', 0);
    INSERT INTO search_notes (search_notes, rank) VALUES ('automerge', 0);

    DROP INDEX interactions_follow_up_due;
    CREATE INDEX interactions_follow_up_due ON interactions(follow_up_on, at, id)
        WHERE follow_up_on IS NOT NULL AND follow_up_done = 0 AND deleted = 0;
    "#,
    // 8: parts of an entry too large for one sealed entry, kept until the last part
    // arrives (a device splits such an entry, written by an older version, in parts).
    r#"
    CREATE TABLE entry_fragments (
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;
    "#,
    // 9: meetings from the user's calendar, one row per occurrence, with whom; the
    // ones still waiting to be asked about read in order of their end.
    r#"
    CREATE TABLE meetings (
        id TEXT PRIMARY KEY,
        calendar_uid TEXT NOT NULL,
        recurrence_id INTEGER,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        all_day INTEGER NOT NULL,
        summary TEXT NOT NULL,
        location TEXT NOT NULL,
        link TEXT,
        cancelled INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        interaction_id TEXT,
        others INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX meetings_asking ON meetings(end_at, id)
        WHERE prompt = 'asked' AND cancelled = 0 AND all_day = 0 AND others > 0 AND deleted = 0;
    CREATE TABLE meeting_attendees (
        meeting_id TEXT NOT NULL,
        email TEXT NOT NULL,
        name TEXT,
        position INTEGER NOT NULL,
        organiser INTEGER NOT NULL,
        is_owner INTEGER NOT NULL,
        declined INTEGER NOT NULL,
        PRIMARY KEY (meeting_id, email)
    ) WITHOUT ROWID;
    CREATE INDEX meeting_attendees_email ON meeting_attendees(email);
    "#,
    // 10: how often to keep in touch with each person, and since when; the people
    // who have a cadence read at once.
    r#"
    ALTER TABLE people ADD COLUMN cadence TEXT;
    ALTER TABLE people ADD COLUMN cadence_since INTEGER;
    CREATE INDEX people_cadence ON people(id) WHERE cadence IS NOT NULL AND deleted = 0;
    "#,
    // 11: merged people. `merged_into` is the person's own redirect, `kept_id` the
    // person it resolves to (redirects followed, people of one address-book uid
    // joined); `redirects_dirty` lists people whose redirects a write may have changed,
    // settled before the write commits. Stores written before this hold people of one
    // uid twice: they are settled on the next write.
    r#"
    ALTER TABLE people ADD COLUMN merged_into TEXT;
    ALTER TABLE people ADD COLUMN kept_id TEXT;
    CREATE INDEX people_merged_into ON people(merged_into) WHERE merged_into IS NOT NULL;
    CREATE INDEX people_kept_id ON people(kept_id) WHERE kept_id IS NOT NULL;
    CREATE TABLE redirects_dirty (person_id TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT OR IGNORE INTO redirects_dirty (person_id)
        SELECT person_id FROM person_keys WHERE kind = 'uid' AND key IN
            (SELECT key FROM person_keys WHERE kind = 'uid' GROUP BY key HAVING COUNT(*) > 1);
    "#,
    // 12: attachments. `attachments` is read model (one row per attachment a person's
    // or a conversation's document holds). `blobs` holds each blob this device has,
    // whole: its bytes are in `blob_chunks`, written in the same transaction as the
    // document change that references them, so a row here means every chunk is
    // there. A blob referenced but not here has not been downloaded yet;
    // `blobs_wanted` lists those the user asked to open.
    r#"
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        owner_kind TEXT NOT NULL,
        blob BLOB NOT NULL,
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        added_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX attachments_owner ON attachments(owner_id, added_at, id);
    CREATE INDEX attachments_blob ON attachments(blob);
    CREATE TABLE blobs (
        hash BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        uploaded INTEGER NOT NULL DEFAULT 0,
        added_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX blobs_to_upload ON blobs(added_at, hash) WHERE uploaded = 0;
    CREATE TABLE blob_chunks (
        hash BLOB NOT NULL,
        seq INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (hash, seq)
    );
    CREATE TABLE blobs_wanted (hash BLOB PRIMARY KEY) WITHOUT ROWID;
    "#,
];
