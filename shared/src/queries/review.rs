//! The weekly review: value calls against casual chats, and who deserves a value call.

use chrono::{Duration, FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use super::rows::{count_where, interactions_where, InteractionRow, PersonName};
use super::today::THANK_YOUS;
use crate::dates::week_start;
use crate::model::{Day, InteractionKind};
use crate::{Result, Store};

/// Counts for one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekCounts {
    /// Monday.
    pub start: Day,
    pub value: i64,
    pub casual: i64,
    pub event: i64,
    pub other: i64,
    pub offers_made: i64,
    pub no_business: i64,
}

/// Someone the user has only ever chatted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasualOnly {
    pub person: PersonName,
    pub casual_chats: i64,
    /// Most recent casual chat, ms since the epoch.
    pub last_casual_at: i64,
}

/// The Review screen for one week and the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub this_week: WeekCounts,
    pub last_week: WeekCounts,
    pub thank_yous_outstanding: i64,
    /// People with casual chats and no value call ever, most recent chat first.
    pub casual_only: Vec<CasualOnly>,
    /// This week's conversations where business never came up.
    pub no_business: Vec<InteractionRow>,
    /// Value calls a week the user aims for, if they set a goal.
    pub value_goal: Option<u32>,
}

/// This week's value calls against the weekly goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalProgress {
    pub goal: u32,
    pub done: i64,
}

/// The local setting holding the weekly value-call goal.
pub const VALUE_GOAL_SETTING: &str = "goal.value-calls-a-week";

/// The largest weekly goal the app takes.
pub const MAX_VALUE_GOAL: u32 = 100;

fn millis(day: NaiveDate, offset: FixedOffset) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| offset.from_local_datetime(&t).single())
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// The week from Monday `start` in `offset`, as milliseconds since the epoch.
fn week_bounds(start: NaiveDate, offset: FixedOffset) -> (i64, i64) {
    (
        millis(start, offset),
        millis(start + Duration::days(7), offset),
    )
}

impl Store {
    /// The review of the week holding `day`, weeks starting on Monday in `offset`.
    pub fn review(&self, day: Day, offset: FixedOffset) -> Result<Review> {
        let conn = self.conn();
        let start = week_start(day.date());
        let this_week = self.week_counts(start, offset)?;
        let last_week = self.week_counts(start - Duration::days(7), offset)?;
        let thank_yous_outstanding =
            i64::try_from(count_where(conn, "interactions i", THANK_YOUS, &[])?)
                .unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.name, COUNT(*), MAX(ip.at) FROM interaction_people ip
             JOIN people p ON p.id = ip.person_id AND p.deleted = 0
             WHERE ip.deleted = 0 AND ip.kind = 'casual'
               AND NOT EXISTS (SELECT 1 FROM interaction_people v
                   WHERE v.person_id = ip.person_id AND v.kind = 'value' AND v.deleted = 0)
             GROUP BY p.id ORDER BY MAX(ip.at) DESC, p.name, p.id",
        )?;
        let casual_only = stmt
            .query_map([], |r| {
                Ok(CasualOnly {
                    person: PersonName {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    },
                    casual_chats: r.get(2)?,
                    last_casual_at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let (from, to) = week_bounds(start, offset);
        let no_business = interactions_where(
            conn,
            "i.deleted = 0 AND i.business_discussed = 0 AND i.at >= ?1 AND i.at < ?2",
            "i.at, i.id",
            None,
            &[&from, &to],
        )?;
        Ok(Review {
            this_week,
            last_week,
            thank_yous_outstanding,
            casual_only,
            no_business,
            value_goal: self.value_goal()?,
        })
    }

    /// The counts of the week starting on Monday `start`, in `offset`.
    fn week_counts(&self, start: NaiveDate, offset: FixedOffset) -> Result<WeekCounts> {
        let conn = self.conn();
        let (from, to) = week_bounds(start, offset);
        let mut counts = WeekCounts {
            start: Day::new(start),
            value: 0,
            casual: 0,
            event: 0,
            other: 0,
            offers_made: 0,
            no_business: 0,
        };
        let mut stmt = conn.prepare_cached(
            "SELECT kind, COUNT(*), SUM(offer_made), SUM(business_discussed = 0) FROM interactions
             WHERE deleted = 0 AND at >= ?1 AND at < ?2 GROUP BY kind",
        )?;
        let mut rows = stmt.query([from, to])?;
        while let Some(r) = rows.next()? {
            let kind: InteractionKind = r.get(0)?;
            let n: i64 = r.get(1)?;
            counts.offers_made += r.get::<_, i64>(2)?;
            counts.no_business += r.get::<_, i64>(3)?;
            match kind {
                InteractionKind::Value => counts.value = n,
                InteractionKind::Casual => counts.casual = n,
                InteractionKind::Event => counts.event = n,
                InteractionKind::Other => counts.other += n,
            }
        }
        Ok(counts)
    }

    /// This week's value calls against the weekly goal, if one is set: what Today
    /// shows, without the rest of the review.
    pub fn goal_progress(&self, day: Day, offset: FixedOffset) -> Result<Option<GoalProgress>> {
        let Some(goal) = self.value_goal()? else {
            return Ok(None);
        };
        let done = self.week_counts(week_start(day.date()), offset)?.value;
        Ok(Some(GoalProgress { goal, done }))
    }

    /// The weekly value-call goal, if one is set.
    pub fn value_goal(&self) -> Result<Option<u32>> {
        Ok(self
            .setting(VALUE_GOAL_SETTING)?
            .and_then(|v| v.parse().ok())
            .filter(|n| (1..=MAX_VALUE_GOAL).contains(n)))
    }

    /// Sets (or with `None` clears) the weekly value-call goal.
    pub fn set_value_goal(&self, per_week: Option<u32>) -> Result<()> {
        if let Some(n) = per_week {
            if !(1..=MAX_VALUE_GOAL).contains(&n) {
                return Err(crate::Error::invalid(format!(
                    "a weekly goal is 1 to {MAX_VALUE_GOAL} value calls, not {n}"
                )));
            }
        }
        self.set_setting(
            VALUE_GOAL_SETTING,
            per_week.map(|n| n.to_string()).as_deref(),
        )
    }
}
