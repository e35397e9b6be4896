//! Story: many devices, random writes, random disconnects and relay restarts,
//! seeded; every run ends with every device holding the same read model.

use aftercall_shared::commands::InteractionEdit;
use aftercall_shared::env::SeededEntropy;

use crate::sync_support::{account, assert_converged, sync_all, Relay};

async fn random_run(seed: u64) {
    let mut rng = SeededEntropy::new(seed);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Some(Relay::start(dir.path()));
    let names = ["phone", "laptop", "tablet", "desk", "watch"];
    let (devices, _) = account(relay.as_ref().unwrap(), &names).await;
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
                // A disconnect: the relay goes away (crash or graceful) and comes back.
                if let Some(r) = relay.take() {
                    let (addr, db) = (r.addr, r.db.clone());
                    if pick(2) == 0 {
                        r.kill();
                    } else {
                        r.stop().await;
                    }
                    relay = Some(Relay::restart(addr, &db));
                }
            }
            _ => {
                d.sync().await;
            }
        }
    }
    let all: Vec<_> = devices.iter().collect();
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
        random_run(seed).await;
    }
}
