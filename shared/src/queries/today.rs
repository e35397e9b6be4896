//! Today: what the user owes people right now.

use chrono::NaiveDate;
use serde::Serialize;

use super::rows::{interactions_where, referrals_where, InteractionRow, ReferralRow};
use crate::{Result, Store};

/// A thank-you still to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThankYouDue {
    pub interaction: InteractionRow,
}

/// A follow-up due today or earlier (or soon, in `upcoming`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpDue {
    /// The follow-up's id: the id of the conversation it belongs to.
    pub id: String,
    pub on: String,
    /// Days past the due date (0 when due today, negative when still ahead).
    pub overdue_days: i64,
    pub interaction: InteractionRow,
}

/// The Today screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Today {
    pub date: String,
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

impl Store {
    /// Thank-yous to send, follow-ups due or overdue on `today`, intros to chase.
    pub fn today(&self, today: NaiveDate) -> Result<Today> {
        let conn = self.conn();
        let thank_yous = interactions_where(
            conn,
            "i.thank_you = 'to_send' AND i.deleted = 0",
            "i.at, i.id",
            &[],
        )?
        .into_iter()
        .map(|interaction| ThankYouDue { interaction })
        .collect();
        let day = today.format("%Y-%m-%d").to_string();
        let week = (today + chrono::Duration::days(7))
            .format("%Y-%m-%d")
            .to_string();
        let due = |filter: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<FollowUpDue>> {
            Ok(
                interactions_where(conn, filter, "i.follow_up_on, i.at, i.id", params)?
                    .into_iter()
                    .filter_map(|interaction| {
                        let on = interaction.follow_up_on.clone()?;
                        let date = NaiveDate::parse_from_str(&on, "%Y-%m-%d").ok()?;
                        Some(FollowUpDue {
                            id: interaction.id.clone(),
                            on,
                            overdue_days: (today - date).num_days(),
                            interaction,
                        })
                    })
                    .collect(),
            )
        };
        let follow_ups = due(
            "i.follow_up_done = 0 AND i.follow_up_on <= ?1 AND i.deleted = 0",
            &[&day],
        )?;
        let upcoming = due(
            "i.follow_up_done = 0 AND i.follow_up_on > ?1 AND i.follow_up_on <= ?2 AND i.deleted = 0",
            &[&day, &week],
        )?;
        let intros = referrals_where(
            conn,
            "r.status IN ('suggested', 'intro-asked') AND r.deleted = 0",
            "r.at, r.position, r.id",
            &[],
        )?;
        Ok(Today {
            date: day,
            thank_yous,
            follow_ups,
            upcoming,
            intros,
        })
    }
}
