//! Captures conversations in a loop and prints each id once its save has returned.
//! The crash test kills this process at random moments and checks every printed id
//! survived.

use std::io::Write;
use std::path::PathBuf;

use aftercall_shared::commands::{CaptureDraft, PersonRef, ReferralDraft};
use aftercall_shared::env::{Clock, SeededEntropy};
use aftercall_shared::model::InteractionKind;
use aftercall_shared::Store;

struct Wall;
impl Clock for Wall {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: capture-loop STORE SEED"));
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut store =
        Store::open(&path, Box::new(Wall), Box::new(SeededEntropy::new(seed))).expect("open store");
    let stdout = std::io::stdout();
    for n in 0u64.. {
        let draft = CaptureDraft {
            people: vec![PersonRef::Named(format!("Person {}", n % 37))],
            kind: InteractionKind::Value,
            talked_about: format!(
                "capture {n} of seed {seed}: {}",
                "pricing and hiring ".repeat(8)
            ),
            referrals: vec![ReferralDraft {
                name: format!("Referral {n}"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let saved = store.capture(&draft).expect("capture");
        let mut out = stdout.lock();
        writeln!(out, "{} {n}", saved.interaction_id).expect("stdout");
        out.flush().expect("stdout");
    }
}
