//! Today: what the user owes people right now.

use serde::{Deserialize, Serialize};

use super::rows::{count_where, interactions_where, referrals_where, InteractionRow, ReferralRow};
use crate::model::{Day, InteractionId};
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

/// How many items each of Today's lists holds in all; the lists themselves hold at
/// most the limit asked for, the most pressing first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayCounts {
    pub thank_yous: usize,
    pub follow_ups: usize,
    pub upcoming: usize,
    pub intros: usize,
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
}

impl Today {
    /// Nothing to do today.
    pub fn is_clear(&self) -> bool {
        self.thank_yous.is_empty() && self.follow_ups.is_empty() && self.intros.is_empty()
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
        let counts = TodayCounts {
            thank_yous: count_where(conn, "interactions i", THANK_YOUS, &[])?,
            follow_ups: count_where(conn, "interactions i", FOLLOW_UPS, &[&day])?,
            upcoming: count_where(conn, "interactions i", UPCOMING, &[&day, &week])?,
            intros: count_where(conn, "referrals r", INTROS, &[])?,
        };
        Ok(Today {
            date: day,
            counts,
            thank_yous,
            follow_ups,
            upcoming,
            intros,
        })
    }
}
