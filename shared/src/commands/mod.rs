//! Domain commands: the only way the UI and the command line change data.
//!
//! Each command is one [`Store::write`](crate::Store::write): all of it lands or none.

mod attach;
mod capture;
mod delete;
mod edit;
mod follow_up;
pub(crate) mod lookup;
mod meeting;
mod merge;
mod referral;

pub use attach::{clean_file_name, pasted_text_name};
pub use capture::{CaptureDraft, Captured, CapturedPerson, EventRef, PersonRef, ReferralDraft};
pub use edit::{InteractionEdit, PersonEdit, ReferralEdit};
pub use merge::Merged;
pub use referral::ReferralAdvanced;
