//! The screens, one per file.

mod capture;
mod event;
mod more;
mod people;
mod person;
mod review;
mod sync;
mod today;
mod transfer;

pub use capture::Capture;
pub use event::{EventMode, EventPageView};
pub use more::More;
pub use people::People;
pub use review::Review;
pub use sync::SyncScreen;
pub use today::people_names;
pub use today::Today;
pub use transfer::Transfer;
