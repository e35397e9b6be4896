//! Integration tests live in `it/`. This library holds what the benchmarks share:
//! [`generate`], seeded realistic conversations, and [`attachment_content`].

pub mod generate {
    //! Seeded, realistic conversations for the benchmarks: names, kinds, channels,
    //! paragraphs of notes, follow-ups and referrals in proportions like real use.

    use aftercall_shared::commands::{CaptureDraft, PersonRef, ReferralDraft};
    use aftercall_shared::env::SeededEntropy;
    use aftercall_shared::model::{Channel, InteractionKind};

    const WORDS: &[&str] = &[
        "pricing",
        "hiring",
        "roadmap",
        "investors",
        "clinic",
        "dental",
        "software",
        "Zürich",
        "partnership",
        "onboarding",
        "churn",
        "marketing",
        "podcast",
        "conference",
        "intro",
        "budget",
        "pilot",
        "contract",
        "referral",
        "coffee",
        "weather",
        "family",
        "holiday",
        "growth",
        "board",
        "advisor",
        "recruiting",
        "logistics",
        "café",
        "naïve",
        "strategy",
        "newsletter",
        "workshop",
        "grant",
        "university",
        "research",
        "sales",
        "pipeline",
    ];
    pub const FIRST: &[&str] = &[
        "Ana", "Bob", "Cleo", "Dan", "Élodie", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
        "Lena", "Marco", "Nora", "Otto", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
        "Wen", "Xavier", "Yara", "Zeb",
    ];
    pub const LAST: &[&str] = &[
        "Müller", "Stone", "García", "Okafor", "Li", "Novak", "Berg", "Rossi", "Kowalski",
        "Haddad", "Silva", "Tanaka", "Nguyen", "Dubois", "Jensen", "Costa", "Ivanov", "Klein",
    ];

    pub struct Gen(pub SeededEntropy);

    impl Gen {
        pub fn below(&mut self, n: usize) -> usize {
            (self.0.next_u64() % n as u64) as usize
        }
        pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
        pub fn paragraph(&mut self, words: usize) -> String {
            let n = words / 2 + self.below(words);
            let mut s = String::new();
            for i in 0..n {
                if i > 0 {
                    s.push(if i % 12 == 0 { '.' } else { ' ' });
                    if i % 12 == 0 {
                        s.push(' ');
                    }
                }
                s.push_str(self.pick(WORDS));
            }
            s
        }
        pub fn draft(&mut self, person: &str) -> CaptureDraft {
            let kinds = [
                InteractionKind::Value,
                InteractionKind::Casual,
                InteractionKind::Casual,
                InteractionKind::Event,
                InteractionKind::Other,
            ];
            let channels = [
                Channel::Phone,
                Channel::Video,
                Channel::InPerson,
                Channel::Message,
            ];
            let mut d = CaptureDraft {
                people: vec![PersonRef::Named(person.to_string())],
                kind: kinds[self.below(kinds.len())],
                channel: channels[self.below(channels.len())],
                talked_about: self.paragraph(40),
                recommended: self.paragraph(12),
                observations: self.paragraph(20),
                next_step: self.paragraph(8),
                business_discussed: self.below(2) == 0,
                offer_made: self.below(4) == 0,
                thank_you: self.below(5) == 0,
                ..Default::default()
            };
            if self.below(4) == 0 {
                d.follow_up = Some(
                    (chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
                        + chrono::Duration::days(self.below(60) as i64))
                    .into(),
                );
            }
            if self.below(6) == 0 {
                d.referrals.push(ReferralDraft {
                    name: format!("{} {}", self.pick(FIRST), self.pick(LAST)),
                    will_introduce: self.below(2) == 0,
                    reach: self.paragraph(4),
                    ..Default::default()
                });
            }
            d
        }
    }
}

/// The content the attach crash loop attaches as its `n`th file under `seed`: 20 KB
/// to about 1.5 MB, different for every `(seed, n)`.
pub fn attachment_content(seed: u64, n: u64) -> Vec<u8> {
    use aftercall_shared::env::Entropy;
    let mut rng = aftercall_shared::env::SeededEntropy::new(seed.wrapping_mul(1_000_003) ^ n);
    let len = 20_000 + (rng.next_u64() % 1_500_000) as usize;
    let mut out = vec![0u8; len];
    rng.fill(&mut out);
    out
}
