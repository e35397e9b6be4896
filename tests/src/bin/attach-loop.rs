//! Attaches files in a loop (now and then one more, removed again), and prints each attachment
//! once `attach` has returned. The crash test kills this process at random moments
//! and checks that every attachment there is whole, every printed one survived,
//! and no content is left that nothing refers to.

use std::io::Write;
use std::path::PathBuf;

use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::env::{Clock, SeededEntropy};
use aftercall_shared::model::{AttachmentOwner, InteractionKind, MediaType};
use aftercall_shared::Store;

struct Wall;
impl Clock for Wall {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: attach-loop STORE SEED"));
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut store =
        Store::open(&path, Box::new(Wall), Box::new(SeededEntropy::new(seed))).expect("open store");
    let stdout = std::io::stdout();
    let jpeg: MediaType = "image/jpeg".parse().expect("a media type");
    for n in 0u64.. {
        let owner = if n % 2 == 0 {
            let person = match store.find_person(&format!("Person {}", n % 5)) {
                Ok(id) => id,
                Err(_) => store
                    .capture(&CaptureDraft {
                        people: vec![PersonRef::Named(format!("Person {}", n % 5))],
                        kind: InteractionKind::Value,
                        ..Default::default()
                    })
                    .expect("capture")
                    .people[0]
                    .id
                    .clone(),
            };
            AttachmentOwner::Person(person)
        } else {
            let saved = store
                .capture(&CaptureDraft {
                    people: vec![PersonRef::Named(format!("Person {}", n % 5))],
                    kind: InteractionKind::Casual,
                    talked_about: format!("photo {n} of seed {seed}"),
                    ..Default::default()
                })
                .expect("capture");
            AttachmentOwner::Conversation(saved.interaction_id)
        };
        let content = aftercall_tests::attachment_content(seed, n);
        let row = store
            .attach(&owner, &format!("photo-{seed}-{n}.jpg"), &jpeg, &content)
            .expect("attach");
        if n % 3 == 2 {
            // Attach a scratch copy and remove it again: its content must go in the
            // removal's transaction, whenever the process dies (a kill between the
            // two leaves the scratch copy, whole).
            let mut scratch = content.clone();
            scratch.extend_from_slice(b"scratch");
            let extra = store
                .attach(&owner, "scratch.jpg", &jpeg, &scratch)
                .expect("attach");
            store.remove_attachment(&extra.id).expect("remove");
        }
        let mut out = stdout.lock();
        writeln!(out, "{} {n}", row.id).expect("stdout");
        out.flush().expect("stdout");
    }
}
