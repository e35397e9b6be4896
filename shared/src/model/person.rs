//! A person the user has met or been referred to.

use autosurgeon::{Hydrate, Reconcile, Text};

/// One Person document.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Person {
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub organisation: String,
    #[autosurgeon(missing = "Default::default")]
    pub role: String,
    #[autosurgeon(missing = "Default::default")]
    pub emails: Vec<String>,
    #[autosurgeon(missing = "Default::default")]
    pub phones: Vec<String>,
    /// Free text; filled from the event when the person was met at one.
    #[autosurgeon(missing = "Default::default")]
    pub how_met: Text,
    /// Id of the Person who introduced us.
    #[autosurgeon(missing = "Default::default")]
    pub introduced_by: Option<String>,
    /// Id of the Event where we met.
    #[autosurgeon(missing = "Default::default")]
    pub event: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub tags: Vec<String>,
    #[autosurgeon(missing = "Default::default")]
    pub notes: Text,
    /// Milliseconds since the epoch.
    #[autosurgeon(missing = "Default::default")]
    pub created_at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub deleted: bool,
}
