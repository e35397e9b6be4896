//! The read model is derived data: rebuilding it from documents gives the same rows.

use super::*;

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
