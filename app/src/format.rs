//! How dates, kinds and lists read to a person: shared by the screens and the command line.

use aftercall_shared::model::{Channel, Day, InteractionKind, ReferralStatus};
use aftercall_shared::queries::DuplicateReason;
use chrono::{DateTime, Local, NaiveDate, TimeZone};

/// A moment (ms since the epoch) as a short local date and time: "Mon 23 Nov, 14:05".
pub fn when(millis: i64) -> String {
    match Local.timestamp_millis_opt(millis).single() {
        Some(t) => t.format("%a %-d %b %Y, %H:%M").to_string(),
        None => String::from("an unknown time"),
    }
}

/// A moment as a local calendar date.
pub fn local_date(millis: i64) -> Option<NaiveDate> {
    Local
        .timestamp_millis_opt(millis)
        .single()
        .map(|t: DateTime<Local>| t.date_naive())
}

/// A day as "Mon 23 Nov".
pub fn day(day: Day) -> String {
    day.date().format("%a %-d %b").to_string()
}

/// How late a follow-up is: "due today", "1 day overdue", "due in 3 days".
pub fn due(overdue_days: i64) -> String {
    match overdue_days {
        0 => "due today".into(),
        1 => "1 day overdue".into(),
        n if n > 1 => format!("{n} days overdue"),
        -1 => "due tomorrow".into(),
        n => format!("due in {} days", -n),
    }
}

/// The kind of a conversation in words: "value call", "casual chat".
pub fn kind(kind: InteractionKind) -> &'static str {
    match kind {
        InteractionKind::Value => "value call",
        InteractionKind::Casual => "casual chat",
        InteractionKind::Event => "met at an event",
        InteractionKind::Other => "other",
    }
}

/// A kind as a choice on the capture form: "Value", "Casual".
pub fn kind_choice(kind: InteractionKind) -> &'static str {
    match kind {
        InteractionKind::Value => "Value",
        InteractionKind::Casual => "Casual",
        InteractionKind::Event => "Event",
        InteractionKind::Other => "Other",
    }
}

/// A channel as a choice on the capture form: "Phone", "In person".
pub fn channel_choice(channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => "Phone",
        Channel::Video => "Video",
        Channel::InPerson => "In person",
        Channel::Message => "Message",
    }
}

/// How far this week is toward the weekly value-call goal, in words.
pub fn goal_progress(goal: u32, done: i64) -> String {
    let done = u32::try_from(done).unwrap_or(0);
    if done >= goal {
        format!("Goal reached: {done} of {goal} value calls this week.")
    } else {
        let left = goal - done;
        format!("{done} of {goal} value calls this week: {left} to go.")
    }
}

/// A referral's status in words.
pub fn referral_status(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Suggested => "suggested",
        ReferralStatus::IntroAsked => "intro asked",
        ReferralStatus::IntroMade => "intro made",
        ReferralStatus::Talked => "talked",
    }
}

/// The first line of a text, cut to `max` characters with an ellipsis.
pub fn gist(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The first 8 characters of an id: enough to name it on the command line.
/// Why two people look like one, as the person page and the command line say it.
pub fn duplicate_reason(reason: DuplicateReason) -> &'static str {
    match reason {
        DuplicateReason::SameEmail => "same email",
        DuplicateReason::SamePhone => "same phone",
        DuplicateReason::SameName => "same name",
    }
}

pub fn short(id: &impl AsRef<str>) -> &str {
    let id = id.as_ref();
    &id[..id.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_read_naturally() {
        assert_eq!(due(0), "due today");
        assert_eq!(due(1), "1 day overdue");
        assert_eq!(due(4), "4 days overdue");
        assert_eq!(due(-1), "due tomorrow");
        assert_eq!(due(-3), "due in 3 days");
    }

    #[test]
    fn gists_cut_on_characters_not_bytes() {
        assert_eq!(
            gist("Zoë talked pricing\nsecond line", 100),
            "Zoë talked pricing"
        );
        assert_eq!(gist("ééééééé", 4), "ééé…");
        assert_eq!(day("2026-11-23".parse().unwrap()), "Mon 23 Nov");
    }

    #[test]
    fn goal_progress_says_how_many_are_left_and_when_it_is_reached() {
        assert_eq!(
            goal_progress(3, 1),
            "1 of 3 value calls this week: 2 to go."
        );
        assert_eq!(
            goal_progress(3, 3),
            "Goal reached: 3 of 3 value calls this week."
        );
        assert_eq!(
            goal_progress(2, 5),
            "Goal reached: 5 of 2 value calls this week."
        );
    }
}
