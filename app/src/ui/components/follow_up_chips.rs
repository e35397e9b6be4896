//! Follow-up chips: tomorrow, in 3 days, next week, or a picked date.

use aftercall_shared::dates::parse_date;
use aftercall_shared::model::Day;
use dioxus::prelude::*;

use crate::format;
use crate::ui::session::local_today;

/// The quick choices and the words `parse_date` reads them from.
pub const QUICK: [(&str, &str, &str); 3] = [
    ("Tomorrow", "tomorrow", "tomorrow"),
    ("In 3 days", "in 3 days", "in-3-days"),
    ("Next week", "next week", "next-week"),
];

/// Follow-up chips with a date picker; choosing the chosen chip again clears it.
#[component]
pub fn FollowUpChips(
    id: String,
    selected: Option<Day>,
    on_choose: EventHandler<Option<Day>>,
) -> Element {
    let today = local_today();
    let summary = match selected {
        Some(d) => format!("Follow up on {}", format::day(d)),
        None => "No follow-up".to_string(),
    };
    rsx! {
        div { class: "field",
            span { class: "label", id: "{id}-label", "Follow up" }
            div { class: "chips", role: "group", "aria-labelledby": "{id}-label",
                for (label, words, slug) in QUICK {
                    {
                        let date = parse_date(words, today).ok().map(Day::from);
                        let on = date.is_some() && date == selected;
                        rsx! {
                            button {
                                key: "{slug}",
                                r#type: "button",
                                class: "chip",
                                id: "{id}-{slug}",
                                "aria-pressed": "{on}",
                                onclick: move |_| on_choose.call(if on { None } else { date }),
                                "{label}"
                            }
                        }
                    }
                }
                label { class: "chip date-chip", r#for: "{id}-date",
                    "Pick a date"
                    input {
                        id: "{id}-date",
                        r#type: "date",
                        onchange: move |e: FormEvent| {
                            on_choose.call(e.value().parse::<Day>().ok())
                        },
                    }
                }
            }
            p { class: "chip-summary", id: "{id}-summary", "{summary}" }
        }
    }
}
