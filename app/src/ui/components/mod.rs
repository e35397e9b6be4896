//! Reusable pieces the screens are built from.

mod empty_state;
mod follow_up_chips;
mod highlight;
mod nav;
mod notice;
mod person_picker;
mod switch;
mod text_field;
mod week_chart;

pub use empty_state::EmptyState;
pub use follow_up_chips::FollowUpChips;
pub use highlight::{excerpt, Highlight};
pub use nav::Nav;
pub use notice::NoticeLine;
pub use person_picker::{PersonPicker, Picked};
pub use switch::{Choice, ChoiceOption, Switch};
pub use text_field::{TextArea, TextField};
pub use week_chart::WeekChart;
