//! Today, People and search, Diary and Review answer from the read model.

use chrono::Duration;

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn search_matches_prefixes_of_any_word_ignoring_accents_and_case() {
    let mut f = fixture(20);
    f.store
        .capture(&chat(
            "José García",
            InteractionKind::Value,
            "Säntis hiking trip",
        ))
        .unwrap();
    f.store
        .capture(&chat(
            "Bea",
            InteractionKind::Casual,
            "kubernetes migration",
        ))
        .unwrap();
    let names = |q: &str| -> Vec<String> {
        f.store
            .search_people(q, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    assert_eq!(names("jose"), ["José García"]);
    assert_eq!(names("GARC"), ["José García"]);
    assert_eq!(names("santis hik"), ["José García"], "all words must match");
    assert_eq!(names("kube"), ["Bea"]);
    assert!(names("santis kube").is_empty());
    assert!(names("zzz").is_empty());
    assert_eq!(names("  ").len(), 2, "an empty search lists everyone");
    assert!(
        names("\"OR\" AND (").is_empty(),
        "operators are plain words"
    );
}

#[test]
fn people_whose_own_record_matches_come_before_people_whose_notes_do() {
    let mut f = fixture(21);
    f.store
        .capture(&chat(
            "Ana",
            InteractionKind::Value,
            "talked about Marco's startup",
        ))
        .unwrap();
    f.clock.advance(Duration::hours(1));
    f.store
        .capture(&chat("Marco Rossi", InteractionKind::Casual, ""))
        .unwrap();
    f.clock.advance(Duration::hours(1));
    f.store
        .capture(&chat("Ana", InteractionKind::Casual, ""))
        .unwrap();
    let found: Vec<String> = f
        .store
        .search_people("marco", 10)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(found, ["Marco Rossi", "Ana"]);
}

#[test]
fn the_people_list_and_typeahead_put_recent_conversations_first() {
    let mut f = fixture(22);
    for name in ["Anna Berg", "Bob", "Hanna Li"] {
        f.store
            .capture(&chat(name, InteractionKind::Casual, ""))
            .unwrap();
        f.clock.advance(Duration::minutes(5));
    }
    let list: Vec<String> = f
        .store
        .people(10)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(list, ["Hanna Li", "Bob", "Anna Berg"]);
    let typed: Vec<String> = f
        .store
        .people_named_like("an", 10)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        typed,
        ["Anna Berg"],
        "word prefixes only, not inner letters"
    );
    let typed: Vec<String> = f
        .store
        .people_named_like("li", 10)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(typed, ["Hanna Li"]);
    assert!(
        f.store.people_named_like("%", 10).unwrap().is_empty(),
        "wildcards are literal"
    );
}

#[test]
fn the_diary_lists_conversations_in_time_order_with_the_last_value_call() {
    let mut f = fixture(23);
    let mut late = chat("Ana", InteractionKind::Casual, "second");
    late.at = Some(monday() + Duration::days(1));
    f.store.capture(&late).unwrap();
    let mut early = chat("Ana", InteractionKind::Value, "first");
    early.at = Some(monday() - Duration::days(3));
    let saved = f.store.capture(&early).unwrap();
    let diary = f.store.diary(&saved.people[0].id).unwrap();
    let order: Vec<&str> = diary
        .interactions
        .iter()
        .map(|i| i.talked_about.as_str())
        .collect();
    assert_eq!(order, ["first", "second"]);
    assert_eq!(
        diary.last_value_call,
        Some((monday() - Duration::days(3)).timestamp_millis())
    );
}

#[test]
fn the_review_counts_the_week_and_queues_casual_only_people_by_latest_chat() {
    let mut f = fixture(24);
    let at = |days: i64| Some(monday() + Duration::days(days));
    let mut captures = vec![
        (chat("Ana", InteractionKind::Value, ""), at(0), true),
        (chat("Bob", InteractionKind::Casual, ""), at(1), false),
        (chat("Cleo", InteractionKind::Casual, ""), at(2), false),
        (chat("Cleo", InteractionKind::Casual, ""), at(-5), false), // last week
        (chat("Ana", InteractionKind::Casual, ""), at(-6), false),  // Ana had a value call
        (chat("Dan", InteractionKind::Value, ""), at(-7), true),
        (chat("Eve", InteractionKind::Other, ""), at(8), false), // next week
    ];
    for (draft, when, business) in captures.iter_mut() {
        draft.at = *when;
        draft.business_discussed = *business;
        f.store.capture(draft).unwrap();
    }
    let review = f
        .store
        .review(
            date("2026-11-25"),
            chrono::FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
    assert_eq!(review.this_week.start, date("2026-11-23"));
    assert_eq!(
        (
            review.this_week.value,
            review.this_week.casual,
            review.this_week.other
        ),
        (1, 2, 0)
    );
    assert_eq!((review.last_week.value, review.last_week.casual), (1, 2));
    let queue: Vec<(&str, i64)> = review
        .casual_only
        .iter()
        .map(|c| (c.person.name.as_str(), c.casual_chats))
        .collect();
    assert_eq!(
        queue,
        [("Cleo", 2), ("Bob", 1)],
        "Ana had a value call, Eve no casual chat"
    );
    let no_business: Vec<&str> = review
        .no_business
        .iter()
        .map(|i| i.people[0].name.as_str())
        .collect();
    assert_eq!(no_business, ["Bob", "Cleo"]);
    assert_eq!(review.this_week.no_business, 2);
}

#[test]
fn week_boundaries_follow_the_users_offset() {
    let mut f = fixture(25);
    let mut draft = chat("Ana", InteractionKind::Value, "");
    // Sunday 22 Nov 23:30 UTC is already Monday 00:30 in UTC+1.
    draft.at = Some(Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap());
    f.store.capture(&draft).unwrap();
    let utc = f
        .store
        .review(
            date("2026-11-23"),
            chrono::FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
    let cet = f
        .store
        .review(
            date("2026-11-23"),
            chrono::FixedOffset::east_opt(3600).unwrap(),
        )
        .unwrap();
    assert_eq!((utc.this_week.value, utc.last_week.value), (0, 1));
    assert_eq!((cet.this_week.value, cet.last_week.value), (1, 0));
}

#[test]
fn greek_and_cyrillic_match_without_their_accents() {
    let mut f = fixture(24);
    f.store
        .capture(&chat(
            "Νίκος Παπαδόπουλος",
            InteractionKind::Value,
            "Ταξίδι στην Ελλάδα, μετά Йошкар-Ола",
        ))
        .unwrap();
    f.store
        .capture(&chat("Ana", InteractionKind::Casual, "pricing"))
        .unwrap();
    for query in [
        "Ελλαδα",
        "ελλάδα",
        "ΕΛΛΑΔΑ",
        "ελλ",
        "ταξιδι",
        "Νικος",
        "παπαδοπ",
        "йошкар",
        "Иошкар",
    ] {
        let found = f.store.search_people(query, 5).unwrap();
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert_eq!(found[0].name, "Νίκος Παπαδόπουλος", "{query}");
    }
}

#[test]
fn search_expands_typed_words_into_the_whole_words_they_begin() {
    let mut f = fixture(21);
    f.store
        .capture(&chat(
            "Ana",
            InteractionKind::Value,
            "pricing for the pilot",
        ))
        .unwrap();
    f.store
        .capture(&chat(
            "Bob",
            InteractionKind::Value,
            "priced out; prickly board",
        ))
        .unwrap();
    f.store
        .capture(&chat("Cleo", InteractionKind::Casual, "weather"))
        .unwrap();
    // "plan" begins more words than a search expands; it stays a prefix query.
    let many: Vec<String> = (0..80).map(|i| format!("planner{i:02}")).collect();
    f.store
        .capture(&chat("Dan", InteractionKind::Casual, &many.join(" ")))
        .unwrap();
    let names = |q: &str| -> Vec<String> {
        let mut v: Vec<String> = f
            .store
            .search_people(q, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("pric"), ["Ana", "Bob"]);
    assert_eq!(names("price"), ["Bob"]);
    assert_eq!(names("pricing pilot"), ["Ana"]);
    assert_eq!(names("PRICK boa"), ["Bob"]);
    assert_eq!(names("plan"), ["Dan"]);
    assert_eq!(names("planner79"), ["Dan"]);
    assert!(names("pricey").is_empty());
}

#[test]
fn search_finds_words_the_vocabulary_has_not_recorded() {
    let mut f = fixture(22);
    f.store
        .capture(&chat("Ana", InteractionKind::Value, "quarterly roadmap"))
        .unwrap();
    f.store
        .conn()
        .execute("DELETE FROM search_vocab", [])
        .unwrap();
    let found = f.store.search_people("quart road", 10).unwrap();
    assert_eq!(found.len(), 1, "an unknown word is searched as a prefix");
}

#[test]
fn the_vocabulary_holds_exactly_the_words_the_index_holds() {
    // Words the way people write them: accents, other scripts, digits, punctuation.
    let pieces = [
        "Zürich",
        "café",
        "naïve",
        "Straße",
        "Ærø",
        "São",
        "Łódź",
        "İstanbul",
        "Ελλάδα",
        "Москва",
        "東京",
        "x-ray",
        "don't",
        "e-mail:",
        "v2.0",
        "12:30",
        "3rd",
        "C++",
        "ﬁne",
        "résumé",
        "ÉCOLE",
        "Åsa",
        "Ñandú",
        "(intro)",
        "A/B",
        "50%",
        "#tag",
        "@name",
        "²",
        "año",
        "Œuvre",
        "Dvořák",
        "Nguyễn",
        "a_b",
        "née",
        "cliché—",
        "“quoted”",
    ];
    let mut rng = SeededEntropy::new(7);
    let mut f = fixture(23);
    for _ in 0..40 {
        let n = 3 + (rng.next_u64() % 12) as usize;
        let text: Vec<&str> = (0..n)
            .map(|_| pieces[(rng.next_u64() % pieces.len() as u64) as usize])
            .collect();
        f.store
            .capture(&chat("Ana", InteractionKind::Casual, &text.join(" ")))
            .unwrap();
    }
    let conn = f.store.conn();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.own_words USING fts5vocab(main, search_own, 'row');
         CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, search_notes, 'row');",
    )
    .unwrap();
    let list = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let indexed =
        list("SELECT term FROM temp.words UNION SELECT term FROM temp.own_words ORDER BY term");
    let vocab = list("SELECT term FROM search_vocab ORDER BY term");
    // Words the index holds but the vocabulary misses would be missed by a search
    // only if they begin with ASCII: other words are always searched as prefixes.
    let missed: Vec<&String> = indexed
        .iter()
        .filter(|t| !vocab.contains(t) && t.chars().next().is_some_and(|c| c.is_ascii()))
        .collect();
    assert!(
        missed.is_empty(),
        "index words missing from the vocabulary: {missed:?}"
    );
}

#[test]
fn records_with_equal_names_and_times_list_in_one_order_on_every_device() {
    use crate::commands::PersonEdit;
    let mut a = fixture(27);
    let at = Some(monday() - Duration::days(1));
    let mut sams = Vec::new();
    for i in 0..4 {
        let mut draft = chat(&format!("Sam Lee {i}"), InteractionKind::Casual, "coffee");
        draft.at = at;
        sams.push(a.store.capture(&draft).unwrap().people[0].id.clone());
    }
    for id in &sams {
        let rename = PersonEdit {
            name: Some("Sam Lee".into()),
            ..Default::default()
        };
        a.store.edit_person(id, &rename).unwrap();
    }
    // One person refers two people in two conversations held at the same moment.
    let mut referrer = crate::model::PersonId::default();
    for name in ["Rin", "Ola"] {
        let mut draft = chat("Kai", InteractionKind::Value, "intros");
        draft.at = at;
        draft.referrals = vec![referral(name, true)];
        referrer = a.store.capture(&draft).unwrap().people[0].id.clone();
    }
    // The other device gets the same records in the opposite order.
    let mut backup = a.store.backup().unwrap();
    backup.documents.reverse();
    let mut b = fixture(28);
    b.store.restore_backup(&backup).unwrap();

    let lists = |s: &crate::Store| -> Vec<Vec<String>> {
        let ids = |people: Vec<crate::queries::PersonSummary>| -> Vec<String> {
            people.into_iter().map(|p| p.id.into()).collect()
        };
        let review = s
            .review(
                monday().date_naive().into(),
                chrono::FixedOffset::east_opt(0).unwrap(),
            )
            .unwrap();
        vec![
            ids(s.people(10).unwrap()),
            ids(s.people(2).unwrap()),
            ids(s.people_named_like("sam", 3).unwrap()),
            ids(s.search_people("coffee", 3).unwrap()),
            review
                .casual_only
                .into_iter()
                .map(|c| c.person.id.into())
                .collect(),
            s.diary(&referrer)
                .unwrap()
                .referrals_given
                .into_iter()
                .map(|r| r.id.into())
                .collect(),
            s.today(monday().date_naive().into())
                .unwrap()
                .intros
                .into_iter()
                .map(|r| r.id.into())
                .collect(),
        ]
    };
    let on_a = lists(&a.store);
    assert_eq!(on_a[0].len(), 5, "{on_a:?}");
    assert_eq!(on_a[5].len(), 2, "{on_a:?}");
    assert_eq!(lists(&b.store), on_a);
}

#[test]
fn record_counts_say_how_many_people_conversations_and_events_are_here() {
    let mut f = fixture(31);
    assert_eq!(
        f.store.record_counts().unwrap(),
        crate::queries::RecordCounts::default()
    );
    let mut at_event = chat("Ana", InteractionKind::Value, "pricing");
    at_event.event = Some(crate::commands::EventRef::Named("RustConf".into()));
    f.store.capture(&at_event).unwrap();
    let bea = f
        .store
        .capture(&chat("Bea", InteractionKind::Casual, ""))
        .unwrap();
    let counts = f.store.record_counts().unwrap();
    assert_eq!(
        (counts.people, counts.interactions, counts.events),
        (2, 2, 1)
    );
    f.store.delete(bea.people[0].id.clone()).unwrap();
    assert_eq!(
        f.store.record_counts().unwrap().people,
        1,
        "a deleted person is not counted"
    );
}
