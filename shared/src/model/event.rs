//! A networking event: the place where several people were met.

use autosurgeon::{Hydrate, Reconcile};

/// One Event document.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Event {
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub place: String,
    /// ISO date (YYYY-MM-DD).
    #[autosurgeon(missing = "Default::default")]
    pub date: String,
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
}
