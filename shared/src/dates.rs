//! Dates as people type them after a call: ISO forms and everyday words.
//!
//! `today`, `tomorrow`, `yesterday`, `in 3 days`, `in 2 weeks`, `next week`,
//! `next month`, `friday`, `next fri`, `3d`, `2w`, `+5`, `2026-11-30`,
//! and for moments also `2026-11-30T14:30`, `2026-11-30 14:30` and RFC 3339.
//! Today is always passed in; nothing here reads the clock.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};

use crate::{Error, Result};

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// Reads a calendar date relative to `today`.
pub fn parse_date(text: &str, today: NaiveDate) -> Result<NaiveDate> {
    let t = text.trim().to_lowercase();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let bad = || {
        Error::invalid(format!(
            "cannot read the date '{}': use YYYY-MM-DD, today, tomorrow, in 3 days, next week or a weekday",
            text.trim()
        ))
    };
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        return Ok(d);
    }
    if t.len() >= 8 && t.as_bytes()[0].is_ascii_digit() && t.contains('-') {
        // Looks like an ISO date but is not a real one (2026-02-30): say so plainly.
        return Err(Error::invalid(format!(
            "'{}' is not a date on the calendar",
            text.trim()
        )));
    }
    match t.as_str() {
        "today" | "now" => return Ok(today),
        "tomorrow" | "tmrw" => return Ok(today + Duration::days(1)),
        "yesterday" => return Ok(today - Duration::days(1)),
        "next week" => return Ok(today + Duration::days(7)),
        "next month" => return today.checked_add_months(Months::new(1)).ok_or_else(bad),
        _ => {}
    }
    let words: Vec<&str> = t.split(' ').collect();
    if let ["next", day] | [day] = words.as_slice() {
        if let Some(wd) = weekday(day) {
            return Ok(next_weekday(today, wd));
        }
    }
    // "in 3 days", "in 2 weeks", "3 days", "3d", "+3", "in a week"
    let (count, unit) = match words.as_slice() {
        ["in", n, unit] | [n, unit] => (*n, *unit),
        [one] => split_compact(one).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let n: i64 = match count {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        c => c.trim_start_matches('+').parse().map_err(|_| bad())?,
    };
    if !(0..=3660).contains(&n) {
        return Err(bad());
    }
    let days = match unit.trim_end_matches('s') {
        "d" | "day" | "" => n,
        "w" | "wk" | "week" => n * 7,
        "m" | "mo" | "month" => {
            return today
                .checked_add_months(Months::new(n as u32))
                .ok_or_else(bad)
        }
        _ => return Err(bad()),
    };
    Ok(today + Duration::days(days))
}

/// Reads a moment in time. Date words keep the time of day of `now`;
/// a date and time without an offset is read in `now`'s offset.
pub fn parse_datetime(text: &str, now: DateTime<FixedOffset>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return local(now.offset(), naive, text);
        }
    }
    let date = parse_date(t, now.date_naive()).map_err(|_| {
        Error::invalid(format!(
            "cannot read the time '{t}': use YYYY-MM-DD HH:MM, an ISO date or a word such as yesterday"
        ))
    })?;
    let time: NaiveTime = now.time();
    local(now.offset(), date.and_time(time), text)
}

fn local(offset: &FixedOffset, naive: NaiveDateTime, text: &str) -> Result<DateTime<Utc>> {
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| Error::invalid(format!("'{}' is not a moment that exists", text.trim())))
}

fn split_compact(word: &str) -> Option<(&str, &str)> {
    let idx = word
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '+'))
        .map(|(i, _)| i)
        .unwrap_or(word.len());
    if idx == 0 {
        return None;
    }
    Some((&word[..idx], &word[idx..]))
}

fn weekday(word: &str) -> Option<Weekday> {
    if word.len() < 3 {
        return None;
    }
    WEEKDAYS
        .iter()
        .find(|(name, _)| name.starts_with(word))
        .map(|(_, wd)| *wd)
}

/// The next given weekday strictly after `today`.
fn next_weekday(today: NaiveDate, wd: Weekday) -> NaiveDate {
    let ahead =
        (7 + wd.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64) % 7;
    today + Duration::days(if ahead == 0 { 7 } else { ahead })
}

/// Monday of the week holding `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(day.weekday().num_days_from_monday() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn everyday_words_resolve_against_today() {
        let today = d("2026-11-23"); // a Monday
        for (word, want) in [
            ("today", "2026-11-23"),
            ("Tomorrow", "2026-11-24"),
            ("in 3 days", "2026-11-26"),
            ("in 2 weeks", "2026-12-07"),
            ("next week", "2026-11-30"),
            ("friday", "2026-11-27"),
            ("fri", "2026-11-27"),
            ("next monday", "2026-11-30"),
            ("monday", "2026-11-30"),
            ("3d", "2026-11-26"),
            ("+5", "2026-11-28"),
            ("in a week", "2026-11-30"),
            ("next month", "2026-12-23"),
            ("2027-01-05", "2027-01-05"),
        ] {
            assert_eq!(parse_date(word, today).unwrap(), d(want), "{word}");
        }
    }

    #[test]
    fn impossible_and_unreadable_dates_are_refused_with_a_reason() {
        let today = d("2026-11-23");
        let e = parse_date("2026-02-30", today).unwrap_err().to_string();
        assert!(e.contains("not a date on the calendar"), "{e}");
        for bad in ["", "soonish", "in many days", "in 99999 days", "fr"] {
            assert!(parse_date(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn moments_keep_the_time_of_day_and_read_local_offsets() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T15:30:00+01:00").unwrap();
        let y = parse_datetime("yesterday", now).unwrap();
        assert_eq!(y.to_rfc3339(), "2026-11-22T14:30:00+00:00");
        let t = parse_datetime("2026-11-20 09:00", now).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-20T08:00:00+00:00");
        assert!(parse_datetime("2026-13-01 09:00", now).is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_start(d("2026-11-29")), d("2026-11-23"));
        assert_eq!(week_start(d("2026-11-23")), d("2026-11-23"));
    }
}
