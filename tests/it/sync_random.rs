//! Story: many devices, random writes, random disconnects and relay restarts,
//! seeded; every run ends with every device holding the same read model. On
//! SQLite one relay; on PostgreSQL three relay nodes of one database, each sync
//! going to a node picked at random (as a load balancer would), each restart
//! hitting a node picked at random.

use aftercall_app::sync;
use aftercall_shared::commands::InteractionEdit;
use aftercall_shared::env::SeededEntropy;
use aftercall_sync_server::test_postgres as postgres;
use aftercall_sync_server::{Config, Database};

use crate::sync_support::{account, assert_converged, sync_all, Relay};

/// One seeded run against `nodes` relay nodes of the database `db` names (a
/// SQLite file or a PostgreSQL database).
async fn random_run(seed: u64, db: Database, nodes: usize) {
    let mut rng = SeededEntropy::new(seed);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let mut relays: Vec<Option<Relay>> = (0..nodes)
        .map(|_| Some(Relay::start_with(Config::new(db.clone()), "127.0.0.1:0")))
        .collect();
    let names = ["phone", "laptop", "tablet", "desk", "watch"];
    let (devices, _) = account(relays[0].as_ref().unwrap(), &names).await;
    let people = ["Ada", "Grace", "Linus", "Barbara"];
    let mut interactions: Vec<aftercall_shared::model::InteractionId> = Vec::new();

    for step in 0..60 {
        let d = &devices[pick(devices.len())];
        match pick(10) {
            0..=3 => interactions.push(d.capture(
                people[pick(people.len())],
                &format!("step {step} on {}", d.name),
            )),
            4 | 5 if !interactions.is_empty() => {
                let id = &interactions[pick(interactions.len())];
                // The device may not have this interaction yet; then it cannot edit it.
                let _ = d.store().edit_interaction(
                    id,
                    &InteractionEdit {
                        next_step: Some(format!("follow up {step} from {}", d.name)),
                        ..Default::default()
                    },
                );
            }
            6 if !interactions.is_empty() => {
                let id = &interactions[pick(interactions.len())];
                let _ = if pick(2) == 0 {
                    d.store().delete(id)
                } else {
                    d.store().restore(id)
                };
            }
            7 => {
                // A disconnect: a relay node goes away (crash or graceful) and
                // comes back.
                let node = &mut relays[pick(nodes)];
                if let Some(r) = node.take() {
                    let (addr, db) = (r.addr, r.db.clone());
                    if pick(2) == 0 {
                        r.kill();
                    } else {
                        r.stop().await;
                    }
                    *node = Some(Relay::restart(addr, &db));
                }
            }
            _ => {
                let node = relays[pick(nodes)].as_ref().unwrap();
                sync::set_relay(d.dir(), &node.url()).unwrap();
                d.sync().await;
            }
        }
    }
    let all: Vec<_> = devices.iter().collect();
    for d in &all {
        let node = relays[pick(nodes)].as_ref().unwrap();
        sync::set_relay(d.dir(), &node.url()).unwrap();
    }
    sync_all(&all).await;
    let rows = assert_converged(&all);
    for step_text in interactions.iter().map(|id| id.as_str()) {
        assert!(
            rows.iter().any(|r| r.contains(step_text)),
            "seed {seed}: {step_text} missing"
        );
    }
    for d in &devices {
        assert_eq!(
            d.store().quarantined_count().unwrap(),
            0,
            "seed {seed}: {}",
            d.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_devices_with_random_writes_and_relay_restarts_always_converge() {
    // Three seeds on every run; AFTERCALL_SYNC_SEEDS=N runs seeds 1 to N.
    let seeds = std::env::var("AFTERCALL_SYNC_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3u64);
    for seed in 1..=seeds {
        let dir = tempfile::tempdir().unwrap();
        random_run(seed, Database::from(dir.path().join("relay.sqlite")), 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relay_nodes_on_postgresql_with_random_restarts_always_converge() {
    let seeds = std::env::var("AFTERCALL_SYNC_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2u64);
    for seed in 1..=seeds {
        let db = postgres::server().database().await;
        random_run(seed, Database::from(db.config.clone()), 3).await;
    }
}
