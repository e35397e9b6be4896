//! Today: what the user owes people right now.

use serde::{Deserialize, Serialize};

use super::rows::{count_where, interactions_where, referrals_where, InteractionRow, ReferralRow};
use crate::model::{Cadence, Day, InteractionId, PersonId};
use crate::{Result, Store};

/// A thank-you still to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThankYouDue {
    pub interaction: InteractionRow,
}

/// A follow-up due today or earlier (or soon, in `upcoming`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpDue {
    /// The follow-up's id: the id of the conversation it belongs to.
    pub id: InteractionId,
    pub on: Day,
    /// Days past the due date (0 when due today, negative when still ahead).
    pub overdue_days: i64,
    pub interaction: InteractionRow,
}

/// Someone past their cadence: not talked to for longer than the user wanted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepInTouchDue {
    pub person: PersonId,
    pub name: String,
    pub cadence: Cadence,
    /// The day of the last conversation, if there was one.
    pub last: Option<Day>,
    /// When contact was due: a cadence after the last conversation (or after the
    /// cadence was set, for someone never talked to).
    pub due: Day,
    /// Days past `due` (0 when due today).
    pub overdue_days: i64,
}

/// How many items each of Today's lists holds in all; the lists themselves hold at
/// most the limit asked for, the most pressing first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayCounts {
    pub thank_yous: usize,
    pub follow_ups: usize,
    pub upcoming: usize,
    pub intros: usize,
    pub keep_in_touch: usize,
}

/// The Today screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Today {
    pub date: Day,
    pub counts: TodayCounts,
    pub thank_yous: Vec<ThankYouDue>,
    /// Due today or overdue, most overdue first.
    pub follow_ups: Vec<FollowUpDue>,
    /// Falling due in the next seven days.
    pub upcoming: Vec<FollowUpDue>,
    /// Referrals not yet introduced: suggested or intro asked.
    pub intros: Vec<ReferralRow>,
    /// People past their cadence, longest overdue first.
    pub keep_in_touch: Vec<KeepInTouchDue>,
}

impl Today {
    /// Nothing to do today.
    pub fn is_clear(&self) -> bool {
        self.thank_yous.is_empty()
            && self.follow_ups.is_empty()
            && self.intros.is_empty()
            && self.keep_in_touch.is_empty()
    }
}

/// How many items of each list Today shows until asked for more.
pub const TODAY_PAGE: usize = 50;

pub(super) const THANK_YOUS: &str = "i.thank_you = 'to_send' AND i.deleted = 0";
const FOLLOW_UPS: &str = "i.follow_up_done = 0 AND i.follow_up_on <= ?1 AND i.deleted = 0";
const UPCOMING: &str =
    "i.follow_up_done = 0 AND i.follow_up_on > ?1 AND i.follow_up_on <= ?2 AND i.deleted = 0";
const INTROS: &str = "r.status IN ('suggested', 'intro-asked') AND r.deleted = 0";

impl Store {
    /// Thank-yous to send, follow-ups due or overdue on `today`, intros to chase: the
    /// first [`TODAY_PAGE`] of each, with their counts.
    pub fn today(&self, today: Day) -> Result<Today> {
        self.today_showing(today, TODAY_PAGE)
    }

    /// Today with at most `limit` items in each list (the counts are always whole).
    pub fn today_showing(&self, today: Day, limit: usize) -> Result<Today> {
        let conn = self.conn();
        let limit = Some(limit);
        let thank_yous = interactions_where(conn, THANK_YOUS, "i.at, i.id", limit, &[])?
            .into_iter()
            .map(|interaction| ThankYouDue { interaction })
            .collect();
        let day = today;
        let week = Day::new(today.date() + chrono::Duration::days(7));
        let due = |filter: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<FollowUpDue>> {
            Ok(
                interactions_where(conn, filter, "i.follow_up_on, i.at, i.id", limit, params)?
                    .into_iter()
                    .filter_map(|interaction| {
                        let on = interaction.follow_up_on?;
                        Some(FollowUpDue {
                            id: interaction.id.clone(),
                            on,
                            overdue_days: on.days_until(today),
                            interaction,
                        })
                    })
                    .collect(),
            )
        };
        let follow_ups = due(FOLLOW_UPS, &[&day])?;
        let upcoming = due(UPCOMING, &[&day, &week])?;
        let intros = referrals_where(conn, INTROS, "r.at, r.position, r.id", limit, &[])?;
        let (keep_in_touch, keeping) = self.keep_in_touch(today, limit)?;
        let counts = TodayCounts {
            thank_yous: count_where(conn, "interactions i", THANK_YOUS, &[])?,
            follow_ups: count_where(conn, "interactions i", FOLLOW_UPS, &[&day])?,
            upcoming: count_where(conn, "interactions i", UPCOMING, &[&day, &week])?,
            intros: count_where(conn, "referrals r", INTROS, &[])?,
            keep_in_touch: keeping,
        };
        Ok(Today {
            date: day,
            counts,
            thank_yous,
            follow_ups,
            upcoming,
            intros,
            keep_in_touch,
        })
    }

    /// People past their cadence on `today`, longest overdue first: at most `limit`,
    /// and how many there are in all. Any conversation, captured on any device,
    /// restarts the clock.
    fn keep_in_touch(
        &self,
        today: Day,
        limit: Option<usize>,
    ) -> Result<(Vec<KeepInTouchDue>, usize)> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT p.id, p.name, p.cadence, COALESCE(s.last_at, p.cadence_since), s.last_at
             FROM people p LEFT JOIN person_stats s ON s.person_id = p.id
             WHERE p.cadence IS NOT NULL AND p.deleted = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, PersonId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Cadence>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let day_of = |millis: i64| {
            chrono::DateTime::from_timestamp_millis(millis).map(|t| Day::new(t.date_naive()))
        };
        let mut due = Vec::new();
        for row in rows {
            let (person, name, cadence, since, last) = row?;
            let Some(base) = since.and_then(day_of) else {
                continue;
            };
            let on = cadence.due_after(base);
            if on <= today {
                due.push(KeepInTouchDue {
                    person,
                    name,
                    cadence,
                    last: last.and_then(day_of),
                    due: on,
                    overdue_days: on.days_until(today),
                });
            }
        }
        due.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.name.cmp(&b.name)));
        let total = due.len();
        due.truncate(limit.unwrap_or(usize::MAX));
        Ok((due, total))
    }
}
