//! Review: this week against last, value calls against casual chats, and whom to
//! book a value call with.

use aftercall_shared::api::Request;
use aftercall_shared::dates::parse_date;
use aftercall_shared::model::{Day, InteractionId};
use aftercall_shared::queries::{Review as ReviewData, WeekCounts};
use dioxus::prelude::*;

use super::today::people_names;
use crate::format;
use crate::ui::components::{Choice, ChoiceOption, EmptyState, WeekChart};
use crate::ui::route::Screen;
use crate::ui::session::{local_offset, local_today, use_query, use_session, Loaded};

/// The share of value calls among value and casual conversations, in percent.
pub fn value_share(w: &WeekCounts) -> Option<i64> {
    let total = w.value + w.casual;
    (total > 0).then(|| w.value * 100 / total)
}

/// The Review screen.
#[component]
pub fn Review() -> Element {
    let session = use_session();
    let review = match use_query::<ReviewData>(Request::Review {
        day: local_today().into(),
        offset_minutes: local_offset().local_minus_utc() / 60,
    }) {
        Loaded::Ready(r) => r,
        other => return other.placeholder(),
    };
    let this = review.this_week.clone();
    let last = review.last_week.clone();
    let share = value_share(&this)
        .map(|p| format!("{p}% of this week's calls were value calls."))
        .unwrap_or_else(|| "No calls yet this week.".to_string());
    rsx! {
        section { class: "screen review", "aria-labelledby": "review-title",
            h1 { id: "review-title", "Review" }
            p { class: "subtitle", "Week of {format::day(this.start)}" }
            div { class: "stats", id: "review-stats",
                Stat { id: "stat-value", label: "Value calls", value: this.value, before: last.value }
                Stat { id: "stat-casual", label: "Casual chats", value: this.casual, before: last.casual }
                Stat { id: "stat-offers", label: "Offers made", value: this.offers_made, before: last.offers_made }
                Stat { id: "stat-thanks", label: "Thank-yous outstanding", value: review.thank_yous_outstanding, before: -1 }
            }
            WeekChart { this: this.clone(), last: last.clone() }
            p { class: "hint", id: "value-share", "{share}" }
            GoalBar { goal: review.value_goal, done: this.value }
            Choice {
                id: "value-goal",
                label: "Value calls a week, my goal",
                options: goal_options(),
                selected: Some(review.value_goal.map_or(NO_GOAL.to_string(), |g| g.to_string())),
                on_choose: {
                    let session = session.clone();
                    move |v: String| {
                        let per_week = v.parse::<u32>().ok();
                        let said = match per_week {
                            Some(n) => format!("Goal: {n} value call{} a week.", if n == 1 { "" } else { "s" }),
                            None => "No weekly goal.".to_string(),
                        };
                        session.act(Request::SetValueGoal { per_week }, said);
                    }
                },
            }
            h2 { "Book a value call with…" }
            if review.casual_only.is_empty() {
                p { class: "hint", "Nobody is stuck at casual: everyone you chatted with has had a value call." }
            }
            ul { class: "cards", id: "casual-only",
                for c in review.casual_only.clone() {
                    li { key: "{c.person.id}", class: "card",
                        div { class: "card-main",
                            button {
                                r#type: "button",
                                class: "who link",
                                onclick: {
                                    let session = session.clone();
                                    let id = c.person.id.clone();
                                    move |_| session.go(Screen::Person(id.clone()))
                                },
                                "{c.person.name}"
                            }
                            span { class: "meta",
                                if c.casual_chats == 1 { "1 casual chat" } else { "{c.casual_chats} casual chats" }
                                " · last {format::when(c.last_casual_at)}"
                            }
                        }
                        div { class: "card-actions",
                            button {
                                r#type: "button",
                                class: "secondary",
                                "aria-label": "Schedule a value call with {c.person.name}",
                                onclick: {
                                    let session = session.clone();
                                    let (id, name) = (c.person.id.clone(), c.person.name.clone());
                                    move |_| {
                                        let Ok(on) = parse_date("next week", local_today()).map(Day::from) else { return };
                                        let session = session.clone();
                                        let (id, name) = (id.clone(), name.clone());
                                        spawn(async move {
                                            let request = Request::ScheduleValueCall { person: id, on };
                                            if session.send::<InteractionId>(request).await.is_some() {
                                                session.done(format!("Value call with {name}: a follow-up on {}.", format::day(on)));
                                            }
                                        });
                                    }
                                },
                                "Schedule a value call"
                            }
                        }
                    }
                }
            }
            h2 { "Calls where business never came up" }
            if review.no_business.is_empty() {
                p { class: "hint", "None this week." }
            }
            ul { class: "cards", id: "no-business",
                for i in review.no_business.clone() {
                    li { key: "{i.id}", class: "card",
                        div { class: "card-main",
                            span { class: "who", "{people_names(&i)}" }
                            span { class: "meta", "{format::kind(i.kind)} · {format::when(i.at)}" }
                        }
                    }
                }
            }
            if this.value + this.casual + this.event + this.other == 0 && review.casual_only.is_empty() && last.value + last.casual == 0 {
                EmptyState {
                    title: "Nothing to review yet.",
                    hint: "Capture your calls and mark them value or casual: the balance shows here.",
                    action: Some(("Capture a call".to_string(), Screen::Capture)),
                }
            }
        }
    }
}

/// The choice meaning "no weekly goal".
const NO_GOAL: &str = "off";

fn goal_options() -> Vec<ChoiceOption> {
    std::iter::once(ChoiceOption::new(NO_GOAL, "None"))
        .chain([1, 2, 3, 5, 8].map(|n: u32| ChoiceOption::new(n.to_string(), n.to_string())))
        .collect()
}

/// This week's value calls against the goal, with a bar; nothing without a goal.
#[component]
pub fn GoalBar(goal: Option<u32>, done: i64) -> Element {
    let Some(goal) = goal else {
        return rsx! {};
    };
    rsx! {
        div { class: "goal", id: "goal-progress",
            progress { max: "{goal}", value: "{done.min(i64::from(goal))}" }
            span { "{format::goal_progress(goal, done)}" }
        }
    }
}

/// One number with last week's beside it (`before` < 0: no comparison).
#[component]
fn Stat(id: String, label: String, value: i64, before: i64) -> Element {
    rsx! {
        div { class: "stat", id: "{id}",
            span { class: "stat-value", "{value}" }
            span { class: "stat-label", "{label}" }
            if before >= 0 { span { class: "meta", "last week {before}" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_share_is_among_value_and_casual_only() {
        let week = |value, casual, event| WeekCounts {
            start: "2026-11-23".parse().unwrap(),
            value,
            casual,
            event,
            other: 0,
            offers_made: 0,
            no_business: 0,
        };
        assert_eq!(value_share(&week(1, 3, 5)), Some(25));
        assert_eq!(value_share(&week(0, 0, 0)), None);
    }
}
