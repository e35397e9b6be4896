//! A meeting from the user's calendar: who was invited.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// Someone invited to a meeting (or organising it), as the calendar names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Attendee {
    /// Normalised: lower case, without `mailto:`.
    pub email: String,
    /// The name the calendar gives, when it gives one other than the address.
    pub name: Option<String>,
    /// The calendar's owner: the user themself.
    pub is_owner: bool,
    pub declined: bool,
}

