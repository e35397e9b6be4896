//! Reading an `.ics` calendar into the meetings it holds within a window of time:
//! one [`MeetingOccurrence`] per occurrence, recurring series expanded.
//!
//! `calcard` parses each event and expands its `RRULE` (with `EXDATE` and `RDATE`)
//! in the event's time zone: a `TZID` naming an IANA zone, a Windows zone
//! (`W. Europe Standard Time`, as Outlook writes) or a `VTIMEZONE` whose zone it
//! recognises. Moved and cancelled occurrences (a `RECURRENCE-ID` override) are
//! matched here to the occurrence they replace by its instant, whatever their
//! `SEQUENCE`. Times with no zone are read in the calendar's own zone
//! (`X-WR-TIMEZONE`), else in UTC.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarParameterName,
    ICalendarParameterValue, ICalendarParticipationStatus, ICalendarProperty, ICalendarStatus,
    ICalendarUserTypes, ICalendarValue,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::calendar_file::{split_calendar, ComponentKind, ComponentText};
use super::matching::normalise_email;
use super::report::Skipped;
use crate::model::{Attendee, CalendarUid};

/// The stretch of time whose meetings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl CalendarWindow {
    /// Days before now whose meetings an import reads.
    pub const DAYS_BACK: i64 = 30;
    /// Days after now whose meetings an import reads.
    pub const DAYS_AHEAD: i64 = 60;

    /// From `back` days before `now` to `ahead` days after it.
    pub fn around(now: DateTime<Utc>, back: i64, ahead: i64) -> CalendarWindow {
        CalendarWindow {
            from: now - Duration::days(back),
            to: now + Duration::days(ahead),
        }
    }

    /// The window an import reads: [`Self::DAYS_BACK`] to [`Self::DAYS_AHEAD`].
    pub fn for_import(now: DateTime<Utc>) -> CalendarWindow {
        CalendarWindow::around(now, Self::DAYS_BACK, Self::DAYS_AHEAD)
    }

    fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        start < self.to && end.max(start + Duration::seconds(1)) > self.from
    }
}

/// One occurrence of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingOccurrence {
    pub uid: CalendarUid,
    /// Which occurrence of a recurring meeting this is: its original start (for an
    /// all-day series, midnight UTC of its original day). `None` for a meeting that
    /// does not recur.
    pub recurrence_id: Option<DateTime<Utc>>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// A whole-day event: `start` and `end` are then midnight UTC of its first day
    /// and of the day after its last.
    pub all_day: bool,
    pub summary: String,
    pub location: String,
    /// The video call's address: the event's `URL`, or a Zoom, Meet, Teams, Webex,
    /// Whereby or Jitsi link in its location or description.
    pub link: Option<String>,
    pub organiser: Option<Attendee>,
    pub attendees: Vec<Attendee>,
    pub cancelled: bool,
    /// Line of the event's `BEGIN:VEVENT` (the override's, for a moved occurrence).
    pub line: usize,
}

/// A calendar read: its occurrences within the window, by start, and what was set
/// aside.
#[derive(Debug, Default)]
pub struct ParsedCalendar {
    pub occurrences: Vec<MeetingOccurrence>,
    pub skipped: Vec<Skipped>,
    /// Things read in a way worth knowing (a time zone not recognised).
    pub notes: Vec<String>,
}

/// Reads every meeting of an `.ics` file that overlaps `window`. `owner` lists the
/// user's own addresses (a Google export's name, its owner's address, is added).
/// Broken lines and events are listed in `skipped`, never fatal.
pub fn read_calendar(bytes: &[u8], window: CalendarWindow, owner: &[String]) -> ParsedCalendar {
    let split = split_calendar(bytes);
    let mut out = ParsedCalendar {
        skipped: split.skipped,
        ..Default::default()
    };
    let mut owner: HashSet<String> = owner.iter().map(|e| normalise_email(e)).collect();
    if let Some(name) = split.name.as_deref().filter(|n| n.contains('@')) {
        owner.insert(normalise_email(name));
    }
    let default_zone = split
        .default_zone
        .as_deref()
        .and_then(|z| Tz::from_str(z).ok())
        .unwrap_or(Tz::UTC);
    let mut zones = Zones {
        components: Vec::new(),
        known: HashMap::new(),
        default: default_zone,
    };
    let mut events = Vec::new();
    for text in &split.components {
        let Some(component) = parse_component(text) else {
            out.skipped.push(Skipped::card(
                text.line,
                "the component cannot be read as iCalendar",
            ));
            continue;
        };
        match text.kind {
            ComponentKind::TimeZone => zones.add(component),
            ComponentKind::Event => events.push((text, component)),
        }
    }
    let mut masters: BTreeMap<String, Event> = BTreeMap::new();
    let mut overrides: Vec<Event> = Vec::new();
    for (text, component) in events {
        match Event::read(text, component, &zones, &owner, &mut out.notes) {
            Err(skipped) => out.skipped.push(skipped),
            Ok(event) if event.recurrence_id.is_some() => overrides.push(event),
            Ok(event) => {
                if masters.contains_key(&event.uid) {
                    out.skipped.push(Skipped::card(
                        event.line,
                        format!("another event with UID {} came earlier", event.uid),
                    ));
                } else {
                    masters.insert(event.uid.clone(), event);
                }
            }
        }
    }
    let mut moved: HashMap<&str, HashMap<DateTime<Utc>, &Event>> = HashMap::new();
    for event in &overrides {
        if let Some(rid) = event.recurrence_id {
            moved
                .entry(event.uid.as_str())
                .or_default()
                .insert(rid, event);
        }
    }
    for master in masters.values() {
        let overridden = moved.get(master.uid.as_str());
        match master.starts(&zones, window) {
            Err(skipped) => out.skipped.push(skipped),
            Ok(starts) => {
                for start in starts {
                    let recurrence_id = master.recurs.then_some(start);
                    let replaced = recurrence_id
                        .and_then(|rid| overridden.and_then(|o| o.get(&rid)))
                        .is_some();
                    if !replaced {
                        let occurrence = master.occurrence(start, recurrence_id);
                        if window.overlaps(occurrence.start, occurrence.end) {
                            out.occurrences.push(occurrence);
                        }
                    }
                }
            }
        }
    }
    for event in &overrides {
        let master = masters.get(&event.uid);
        let mut occurrence = event.occurrence(event.start, event.recurrence_id);
        if let Some(master) = master {
            // What the override leaves out, the series gives.
            occurrence.cancelled |= master.cancelled;
            if occurrence.summary.is_empty() {
                occurrence.summary.clone_from(&master.summary);
            }
        }
        if window.overlaps(occurrence.start, occurrence.end) {
            out.occurrences.push(occurrence);
        }
    }
    out.occurrences.sort_by(|a, b| {
        (a.start, &a.uid, a.recurrence_id).cmp(&(b.start, &b.uid, b.recurrence_id))
    });
    out.skipped.sort_by_key(|s| s.line);
    out
}

/// The most occurrences of one series worked out before the window's end.
const MAX_OCCURRENCES: usize = 1 << 16;

/// The calendar's time zones, as the library resolves them.
struct Zones {
    /// The `VTIMEZONE` components, handed to the library with each series.
    components: Vec<ICalendarComponent>,
    known: HashMap<String, Tz>,
    /// For times written without a zone.
    default: Tz,
}

impl Zones {
    fn add(&mut self, calendar: ICalendar) {
        for component in calendar.components {
            if component.component_type != ICalendarComponentType::VTimezone {
                continue;
            }
            if let Some((name, tz)) = component.timezone() {
                self.known.insert(name.to_string(), tz);
            }
            self.components.push(component);
        }
    }

    /// The zone a `TZID` names: its `VTIMEZONE`, else the name itself (IANA or
    /// Windows); `None` when neither is known.
    fn resolve(&self, tzid: &str) -> Option<Tz> {
        self.known
            .get(tzid)
            .copied()
            .or_else(|| Tz::from_str(tzid).ok())
    }
}

/// One `VEVENT` read: a meeting, a series, or an override of one occurrence.
struct Event {
    line: usize,
    uid: String,
    /// For an override: the original start of the occurrence it replaces.
    recurrence_id: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    /// How long each occurrence lasts.
    length: Duration,
    all_day: bool,
    /// Whether the event has an `RRULE` or `RDATE`.
    recurs: bool,
    summary: String,
    location: String,
    link: Option<String>,
    organiser: Option<Attendee>,
    attendees: Vec<Attendee>,
    cancelled: bool,
    /// The parsed event, expanded when it recurs.
    component: ICalendarComponent,
    rrule_line: usize,
}

impl Event {
    fn read(
        text: &ComponentText,
        calendar: ICalendar,
        zones: &Zones,
        owner: &HashSet<String>,
        notes: &mut Vec<String>,
    ) -> Result<Event, Skipped> {
        let component = calendar
            .components
            .into_iter()
            .find(|c| c.component_type == ICalendarComponentType::VEvent)
            .ok_or_else(|| Skipped::card(text.line, "the event cannot be read"))?;
        let value = |prop: ICalendarProperty| {
            component
                .property(&prop)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let uid = value(ICalendarProperty::Uid);
        if uid.is_empty() {
            return Err(Skipped::card(text.line, "the event has no UID"));
        }
        let mut zone_of = |tzid: Option<&str>, all_day: bool| -> Tz {
            if all_day {
                return Tz::UTC;
            }
            match tzid {
                None => zones.default,
                Some(tzid) => zones.resolve(tzid).unwrap_or_else(|| {
                    let note = format!(
                        "the time zone '{tzid}' is not known: its times were read in {}",
                        zones.default.name().unwrap_or_default()
                    );
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                    zones.default
                }),
            }
        };
        let date_prop = |prop: ICalendarProperty| {
            component.property(&prop).map(|e| {
                (
                    e.values
                        .first()
                        .and_then(ICalendarValue::as_partial_date_time),
                    e.tz_id(),
                )
            })
        };
        let (start, start_tzid) = match date_prop(ICalendarProperty::Dtstart) {
            None => return Err(Skipped::card(text.line, "the event has no DTSTART")),
            Some((None, _)) => {
                return Err(Skipped::card(
                    text.line_of("DTSTART"),
                    "the event's DTSTART is not a date",
                ))
            }
            Some((Some(start), tzid)) => (start, tzid),
        };
        let all_day = !start.has_time();
        let zone = zone_of(start_tzid, all_day);
        let unreadable =
            || Skipped::card(text.line_of("DTSTART"), "the event's DTSTART is not a date");
        let start_at = instant(start, zone).ok_or_else(unreadable)?;
        let end_at = match date_prop(ICalendarProperty::Dtend) {
            Some((Some(end), tzid)) => {
                let end_zone = if tzid.is_some() {
                    zone_of(tzid, all_day)
                } else {
                    zone
                };
                instant(end, end_zone)
            }
            _ => None,
        };
        let duration = component
            .property(&ICalendarProperty::Duration)
            .and_then(|e| e.values.first())
            .and_then(|v| match v {
                ICalendarValue::Duration(d) => d.to_time_delta(),
                _ => None,
            });
        let length = match (end_at, duration) {
            (Some(end), _) if end >= start_at => end - start_at,
            (_, Some(d)) if d >= Duration::zero() => d,
            _ if all_day => Duration::days(1),
            _ => Duration::zero(),
        };
        let recurrence_id = match date_prop(ICalendarProperty::RecurrenceId) {
            None => None,
            Some((Some(rid), tzid)) => {
                let rid_zone = if tzid.is_some() {
                    zone_of(tzid, !rid.has_time())
                } else {
                    zone_of(start_tzid, !rid.has_time())
                };
                Some(instant(rid, rid_zone).ok_or_else(|| {
                    Skipped::card(
                        text.line_of("RECURRENCE-ID"),
                        "the event's RECURRENCE-ID is not a date",
                    )
                })?)
            }
            Some((None, _)) => {
                return Err(Skipped::card(
                    text.line_of("RECURRENCE-ID"),
                    "the event's RECURRENCE-ID is not a date",
                ))
            }
        };
        let rule_unread = component
            .properties(&ICalendarProperty::Rrule)
            .any(|e| !matches!(e.values.first(), Some(ICalendarValue::RecurrenceRule(_))));
        if rule_unread {
            return Err(Skipped::card(
                text.line_of("RRULE"),
                "the event's RRULE cannot be read",
            ));
        }
        let recurs = recurrence_id.is_none()
            && (component.has_property(&ICalendarProperty::Rrule)
                || component.has_property(&ICalendarProperty::Rdate));
        let location = value(ICalendarProperty::Location);
        let description = value(ICalendarProperty::Description);
        let link = [
            value(ICalendarProperty::Other("X-GOOGLE-CONFERENCE".into())),
            value(ICalendarProperty::Url),
        ]
        .into_iter()
        .find(|l| l.starts_with("https://") || l.starts_with("http://"))
        .or_else(|| meeting_link(&location).or_else(|| meeting_link(&description)));
        let cancelled = matches!(
            component
                .property(&ICalendarProperty::Status)
                .and_then(|e| e.values.first()),
            Some(ICalendarValue::Status(ICalendarStatus::Cancelled))
        );
        let organiser = component
            .property(&ICalendarProperty::Organizer)
            .and_then(|e| participant(e, owner));
        let mut attendees: Vec<Attendee> = Vec::new();
        for entry in component.properties(&ICalendarProperty::Attendee) {
            let is_room = entry.parameters(&ICalendarParameterName::Cutype).any(|v| {
                matches!(
                    v,
                    ICalendarParameterValue::Cutype(
                        ICalendarUserTypes::Room | ICalendarUserTypes::Resource
                    )
                )
            });
            if let Some(a) = participant(entry, owner).filter(|_| !is_room) {
                if !attendees.iter().any(|b| b.email == a.email) {
                    attendees.push(a);
                }
            }
        }
        Ok(Event {
            line: text.line,
            summary: value(ICalendarProperty::Summary),
            uid,
            recurrence_id,
            start: start_at,
            length,
            all_day,
            recurs,
            location,
            link,
            organiser,
            attendees,
            cancelled,
            rrule_line: text.line_of("RRULE"),
            component,
        })
    }

    /// The starts of the series (or the one start of a single meeting) up to the
    /// window's end; occurrences `EXDATE` removes are left out.
    fn starts(&self, zones: &Zones, window: CalendarWindow) -> Result<Vec<DateTime<Utc>>, Skipped> {
        if !self.recurs {
            return Ok(vec![self.start]);
        }
        let mut calendar = ICalendar {
            components: vec![self.component.clone()],
        };
        calendar.components.extend(zones.components.iter().cloned());
        // The library counts occurrences from the first; ask for more until the
        // window's end is passed or the series ends.
        let mut limit = 256;
        let mut last_count = usize::MAX;
        loop {
            let default = if self.all_day { Tz::UTC } else { zones.default };
            let expanded = calendar.expand_dates(default, limit);
            if let Some(error) = expanded.errors.first() {
                return Err(Skipped::card(
                    self.rrule_line,
                    format!("the event's recurrence cannot be read: {}", error.error),
                ));
            }
            let mut starts: Vec<DateTime<Utc>> = expanded
                .events
                .iter()
                .map(|e| {
                    if self.all_day {
                        Utc.from_utc_datetime(&e.start.naive_local())
                    } else {
                        e.start.with_timezone(&Utc)
                    }
                })
                .collect();
            starts.sort();
            starts.dedup();
            let past_window = starts.last().is_some_and(|s| *s >= window.to);
            if past_window || starts.len() == last_count || limit >= MAX_OCCURRENCES {
                starts.retain(|s| *s < window.to);
                return Ok(starts);
            }
            last_count = starts.len();
            limit *= 4;
        }
    }

    fn occurrence(
        &self,
        start: DateTime<Utc>,
        recurrence_id: Option<DateTime<Utc>>,
    ) -> MeetingOccurrence {
        MeetingOccurrence {
            uid: CalendarUid::from(self.uid.as_str()),
            recurrence_id,
            start,
            end: start + self.length,
            all_day: self.all_day,
            summary: self.summary.clone(),
            location: self.location.clone(),
            link: self.link.clone(),
            organiser: self.organiser.clone(),
            attendees: self.attendees.clone(),
            cancelled: self.cancelled,
            line: self.line,
        }
    }
}

/// A date-time in `zone` (a date alone: midnight UTC of that day), as an instant.
fn instant(value: &PartialDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    if !value.has_time() {
        let date = NaiveDate::from_ymd_opt(
            i32::from(value.year?),
            u32::from(value.month?),
            u32::from(value.day?),
        )?;
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    let at = value.to_date_time()?;
    let local = at.to_date_time_with_tz(zone).or_else(|| {
        // A time that a change to summer time skips is read an hour later.
        zone.from_local_datetime(&(at.date_time + Duration::hours(1)))
            .earliest()
    })?;
    Some(local.with_timezone(&Utc))
}

/// An organiser or attendee with an email address; `None` without one.
fn participant(
    entry: &calcard::icalendar::ICalendarEntry,
    owner: &HashSet<String>,
) -> Option<Attendee> {
    let param = |name: ICalendarParameterName| {
        entry
            .parameter(&name)
            .and_then(ICalendarParameterValue::as_text)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let address = param(ICalendarParameterName::Email)
        .or_else(|| entry.calendar_address())
        .map(normalise_email)
        .filter(|e| e.contains('@'))?;
    let name = param(ICalendarParameterName::Cn)
        .filter(|cn| normalise_email(cn) != address)
        .map(str::to_string);
    let declined = entry
        .parameters(&ICalendarParameterName::Partstat)
        .any(|v| {
            matches!(
                v,
                ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Declined)
            )
        });
    Some(Attendee {
        is_owner: owner.contains(&address),
        email: address,
        name,
        declined,
    })
}

/// Hosts whose links are video calls.
const MEETING_HOSTS: &[&str] = &[
    "zoom.us",
    "meet.google.com",
    "teams.microsoft.com",
    "teams.live.com",
    "webex.com",
    "whereby.com",
    "meet.jit.si",
];

/// The first video-call link in a text.
fn meeting_link(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        let candidate = &rest[at..];
        rest = &candidate[4..];
        let Some(after) = candidate
            .strip_prefix("https://")
            .or_else(|| candidate.strip_prefix("http://"))
        else {
            continue;
        };
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ')' | ']'))
            .unwrap_or(candidate.len());
        let link = candidate[..end].trim_end_matches(['.', ',', ';']);
        let host = after
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let known = MEETING_HOSTS
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")));
        if known {
            return Some(link.to_string());
        }
    }
    None
}

/// Parses one component's text with the library.
fn parse_component(text: &ComponentText) -> Option<ICalendar> {
    let mut parser = calcard::Parser::new(&text.text);
    loop {
        match parser.entry() {
            calcard::Entry::ICalendar(calendar) => return Some(calendar),
            calcard::Entry::InvalidLine(_) => continue,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_links_are_found_in_free_text() {
        assert_eq!(
            meeting_link("Join: <https://teams.microsoft.com/l/meetup-join/19%3a> now").as_deref(),
            Some("https://teams.microsoft.com/l/meetup-join/19%3a")
        );
        assert_eq!(
            meeting_link("Room 4, or https://acme.zoom.us/j/123?pwd=x.").as_deref(),
            Some("https://acme.zoom.us/j/123?pwd=x")
        );
        assert_eq!(meeting_link("see https://example.com/zoom.us"), None);
        assert_eq!(meeting_link("httpx"), None);
    }
}
