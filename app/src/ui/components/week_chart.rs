//! A small bar chart comparing two weeks' value calls and casual chats.

use aftercall_shared::queries::WeekCounts;
use dioxus::prelude::*;

/// One bar: its label, count and share of the tallest bar (0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: &'static str,
    pub count: i64,
    pub class: &'static str,
    pub percent: i64,
}

/// The bars for the value/casual comparison of two weeks.
pub fn bars(this: &WeekCounts, last: &WeekCounts) -> Vec<(&'static str, Vec<Bar>)> {
    let max = [this.value, this.casual, last.value, last.casual]
        .into_iter()
        .max()
        .unwrap_or(0)
        .max(1);
    let week = |w: &WeekCounts| {
        vec![
            Bar {
                label: "Value",
                count: w.value,
                class: "bar value",
                percent: w.value * 100 / max,
            },
            Bar {
                label: "Casual",
                count: w.casual,
                class: "bar casual",
                percent: w.casual * 100 / max,
            },
        ]
    };
    vec![("This week", week(this)), ("Last week", week(last))]
}

/// The chart.
#[component]
pub fn WeekChart(this: WeekCounts, last: WeekCounts) -> Element {
    let groups = bars(&this, &last);
    rsx! {
        figure { class: "chart", "aria-label": "Value calls and casual chats, this week and last",
            for (title, group) in groups {
                div { class: "chart-week", key: "{title}",
                    div { class: "chart-title", "{title}" }
                    for bar in group {
                        div { class: "chart-row", key: "{bar.label}",
                            span { class: "chart-label", "{bar.label}" }
                            span { class: "chart-track",
                                span { class: "{bar.class}", style: "width: {bar.percent}%" }
                            }
                            span { class: "chart-count", "{bar.count}" }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_week() {
        let week = |value, casual| WeekCounts {
            start: "2026-11-23".parse().unwrap(),
            value,
            casual,
            event: 0,
            other: 0,
            offers_made: 0,
            no_business: 0,
        };
        let this = week(2, 4);
        let last = week(1, 0);
        let b = bars(&this, &last);
        assert_eq!(b[0].1[0].percent, 50);
        assert_eq!(b[0].1[1].percent, 100);
        assert_eq!(b[1].1[0].percent, 25);
        assert_eq!(b[1].1[1].percent, 0);
        let empty = bars(&week(0, 0), &week(0, 0));
        assert!(empty.iter().all(|(_, g)| g.iter().all(|b| b.percent == 0)));
    }
}
