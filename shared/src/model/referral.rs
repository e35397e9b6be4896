//! A person someone suggested the user talk to, kept inside the interaction where it came up.

use autosurgeon::{Hydrate, Reconcile, Text};

use super::ReferralStatus;

/// One referral, keyed by its id in its interaction's `referrals` map so that two
/// devices adding referrals at once both keep theirs.
#[derive(Debug, Clone, Default, Reconcile, Hydrate)]
pub struct Referral {
    /// The name as the referrer said it.
    pub name: String,
    /// Id of the Person this referral became (or already was).
    #[autosurgeon(missing = "Default::default")]
    pub person: Option<String>,
    /// The referrer offered to introduce us.
    #[autosurgeon(missing = "Default::default")]
    pub will_introduce: bool,
    /// The referrer will at least tell them I will call.
    #[autosurgeon(missing = "Default::default")]
    pub will_tell: bool,
    /// I may say the referrer sent me.
    #[autosurgeon(missing = "Default::default")]
    pub may_use_name: bool,
    /// How and when best to reach them.
    #[autosurgeon(missing = "Default::default")]
    pub reach: Text,
    #[autosurgeon(missing = "Default::default")]
    pub status: ReferralStatus,
    /// Position in the capture form, so referrals keep the order they were typed in.
    #[autosurgeon(missing = "Default::default")]
    pub order: i64,
}
