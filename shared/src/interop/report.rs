//! What an import did: who was added or updated, and what was skipped and why.

use serde::Serialize;

/// A card or line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Skipped {
    /// 1-based line number in the file: the line itself, or the card's `BEGIN:VCARD`.
    pub line: usize,
    /// Whether a whole card was skipped (rather than one line of a card).
    pub whole_card: bool,
    pub reason: String,
}

impl Skipped {
    pub(crate) fn card(line: usize, reason: impl Into<String>) -> Self {
        Skipped {
            line,
            whole_card: true,
            reason: reason.into(),
        }
    }
    pub(crate) fn line(line: usize, reason: impl Into<String>) -> Self {
        Skipped {
            line,
            whole_card: false,
            reason: reason.into(),
        }
    }
}

/// What happened to one imported card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new person was created.
    Added,
    /// An existing person was matched and changed.
    Updated,
    /// An existing person was matched and already held everything on the card.
    Unchanged,
}

/// One imported card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportedCard {
    /// Line of the card's `BEGIN:VCARD`, or of the CSV row.
    pub line: usize,
    pub person_id: crate::model::PersonId,
    pub name: String,
    pub outcome: Outcome,
}

/// The report an import prints and the Import screen shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// True when nothing was written (`--dry-run`).
    pub dry_run: bool,
    pub cards: Vec<ImportedCard>,
    /// Cards and lines that were not imported, in file order.
    pub skipped: Vec<Skipped>,
    /// Things kept out on purpose, such as photos too large to keep.
    pub notes: Vec<String>,
}

impl ImportReport {
    fn count(&self, outcome: Outcome) -> usize {
        self.cards.iter().filter(|c| c.outcome == outcome).count()
    }
    pub fn added(&self) -> usize {
        self.count(Outcome::Added)
    }
    pub fn updated(&self) -> usize {
        self.count(Outcome::Updated)
    }
    pub fn unchanged(&self) -> usize {
        self.count(Outcome::Unchanged)
    }
    /// Whole cards skipped.
    pub fn cards_skipped(&self) -> usize {
        self.skipped.iter().filter(|s| s.whole_card).count()
    }
    /// One line saying what happened, for a status bar or a terminal.
    pub fn summary(&self) -> String {
        format!(
            "{}{} added, {} updated, {} unchanged, {} card{} skipped, {} line{} skipped",
            if self.dry_run {
                "dry run (nothing written): "
            } else {
                ""
            },
            self.added(),
            self.updated(),
            self.unchanged(),
            self.cards_skipped(),
            if self.cards_skipped() == 1 { "" } else { "s" },
            self.skipped.len() - self.cards_skipped(),
            if self.skipped.len() - self.cards_skipped() == 1 {
                ""
            } else {
                "s"
            },
        )
    }
}

/// How far an import has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportProgress {
    /// Cards handled so far (imported or skipped).
    pub done: usize,
    /// Cards in the file.
    pub total: usize,
}
