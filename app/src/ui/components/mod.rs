//! Reusable pieces the screens are built from.

mod attachments;
mod empty_state;
mod file_pick;
mod follow_up_chips;
mod highlight;
mod nav;
mod notice;
mod person_picker;
mod switch;
mod text_field;
mod week_chart;

pub use attachments::{AttachControls, AttachmentList};
pub use empty_state::EmptyState;
pub use file_pick::{picked_file, PickError};
pub use follow_up_chips::FollowUpChips;
pub use highlight::{excerpt, Highlight};
pub use nav::Nav;
pub use notice::NoticeLine;
pub use person_picker::{PersonPicker, Picked};
pub use switch::{Choice, ChoiceOption, Switch};
pub use text_field::{TextArea, TextField};
pub use week_chart::WeekChart;
