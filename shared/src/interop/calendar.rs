//! Follow-ups and thank-yous to send as an iCalendar (`.ics`) file: one all-day
//! event with a reminder per item, under a uid that stays the same between exports
//! so that importing again updates the calendar instead of duplicating it.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::params;

use crate::{Result, Store};

/// The `PRODID` of every calendar written.
pub const CALENDAR_PRODID: &str = "-//Aftercall//Aftercall follow-ups//EN";

/// The longest line, in octets, before folding (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// One calendar item, before writing.
struct Item {
    uid: String,
    day: NaiveDate,
    summary: String,
    description: String,
}

impl Store {
    /// Open follow-ups and thank-yous still to send, as one `.ics` text.
    pub fn export_calendar(&self) -> Result<String> {
        let now = self.now();
        let mut items = Vec::new();
        let mut stmt = self.conn().prepare(
            "SELECT i.id, i.at, i.follow_up_on, i.follow_up_done, i.thank_you, i.next_step,
                    i.talked_about,
                    (SELECT GROUP_CONCAT(name, ', ') FROM (
                        SELECT p.name FROM interaction_people ip JOIN people p ON p.id = ip.person_id
                        WHERE ip.interaction_id = i.id ORDER BY ip.position, ip.person_id))
             FROM interactions i
             WHERE i.deleted = 0
               AND ((i.follow_up_on IS NOT NULL AND i.follow_up_done = 0) OR i.thank_you = 'to_send')
             ORDER BY i.at, i.id",
        )?;
        let rows = stmt.query_map(params![], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<crate::model::Day>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, crate::model::ThankYouState>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            ))
        })?;
        for row in rows {
            let (id, at, follow_up_on, follow_up_done, thank_you, next_step, talked_about, names) =
                row?;
            let met = DateTime::<Utc>::from_timestamp_millis(at).unwrap_or(now);
            let with = if names.is_empty() {
                "someone".to_string()
            } else {
                names
            };
            let context = |first: &str| {
                [first.trim(), talked_about.trim()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n")
            };
            if let (Some(on), false) = (follow_up_on, follow_up_done) {
                items.push(Item {
                    uid: format!("follow-up-{id}@aftercall"),
                    day: on.date(),
                    summary: format!("Follow up with {with}"),
                    description: context(&next_step),
                });
            }
            if thank_you == crate::model::ThankYouState::ToSend {
                items.push(Item {
                    uid: format!("thank-you-{id}@aftercall"),
                    day: met.date_naive(),
                    summary: format!("Send a thank-you to {with}"),
                    description: context(&format!(
                        "For the conversation on {}.",
                        met.format("%Y-%m-%d")
                    )),
                });
            }
        }
        Ok(calendar(&items, now))
    }
}

fn calendar(items: &[Item], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let mut line = |text: &str| fold_line(&mut out, text);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line(&format!("PRODID:{CALENDAR_PRODID}"));
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    for item in items {
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", item.uid));
        line(&format!("DTSTAMP:{stamp}"));
        line(&format!("DTSTART;VALUE=DATE:{}", item.day.format("%Y%m%d")));
        line(&format!(
            "DTEND;VALUE=DATE:{}",
            (item.day + Duration::days(1)).format("%Y%m%d")
        ));
        line(&format!("SUMMARY:{}", escape_text(&item.summary)));
        if !item.description.is_empty() {
            line(&format!("DESCRIPTION:{}", escape_text(&item.description)));
        }
        line("TRANSP:TRANSPARENT");
        line("BEGIN:VALARM");
        line("ACTION:DISPLAY");
        line(&format!("DESCRIPTION:{}", escape_text(&item.summary)));
        // 9:00 on the day.
        line("TRIGGER;RELATED=START:PT9H");
        line("END:VALARM");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded so no line exceeds 75 octets and no UTF-8
/// character is split, each ending in CRLF.
pub(crate) fn fold_line(out: &mut String, text: &str) {
    let mut rest = text;
    let mut limit = MAX_LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation line counts towards its 75 octets.
        limit = MAX_LINE_OCTETS - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let text = format!("DESCRIPTION:{}", "Zoë Ångström ünd 日本語 ".repeat(12));
        fold_line(&mut out, &text);
        for line in out.split_terminator("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{text}\r\n"));
        assert!(out.ends_with("\r\n"));
    }

    #[test]
    fn text_values_escape_their_separators() {
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
