//! How often to keep in touch with someone: every two weeks, every month, every
//! quarter, or every so many days, weeks or months.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use chrono::Months;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Day;
use crate::Error;

/// The unit a cadence counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CadenceUnit {
    Days,
    Weeks,
    Months,
}

/// Every `every` days, weeks or months. Written one way everywhere (documents, read
/// model, JSON): `14d`, `2w`, `1m`, `3m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cadence {
    every: u16,
    unit: CadenceUnit,
}

impl Cadence {
    /// The choices offered before "custom".
    pub const FORTNIGHTLY: Cadence = Cadence::fixed(2, CadenceUnit::Weeks);
    pub const MONTHLY: Cadence = Cadence::fixed(1, CadenceUnit::Months);
    pub const QUARTERLY: Cadence = Cadence::fixed(3, CadenceUnit::Months);
    pub const CHOICES: [Cadence; 3] = [Cadence::FORTNIGHTLY, Cadence::MONTHLY, Cadence::QUARTERLY];

    /// The longest cadence: five years.
    pub const MAX_DAYS: u32 = 5 * 366;

    const fn fixed(every: u16, unit: CadenceUnit) -> Cadence {
        Cadence { every, unit }
    }

    /// Every `every` units; refused when zero or longer than five years.
    pub fn new(every: u32, unit: CadenceUnit) -> Result<Cadence, Error> {
        let days = match unit {
            CadenceUnit::Days => every,
            CadenceUnit::Weeks => every.saturating_mul(7),
            CadenceUnit::Months => every.saturating_mul(31),
        };
        if every == 0 || days > Cadence::MAX_DAYS + 31 {
            return Err(Error::invalid(format!(
                "a cadence is between one day and five years, not {every} {}",
                unit.word(2)
            )));
        }
        Ok(Cadence {
            every: every as u16,
            unit,
        })
    }

    pub fn every(self) -> u32 {
        u32::from(self.every)
    }

    pub fn unit(self) -> CadenceUnit {
        self.unit
    }

    /// The day contact is due again after contact on `last`.
    pub fn due_after(self, last: Day) -> Day {
        let date: chrono::NaiveDate = last.into();
        let due = match self.unit {
            CadenceUnit::Days => date.checked_add_days(chrono::Days::new(self.every.into())),
            CadenceUnit::Weeks => {
                date.checked_add_days(chrono::Days::new(7 * u64::from(self.every)))
            }
            CadenceUnit::Months => date.checked_add_months(Months::new(self.every.into())),
        };
        due.map(Day::from).unwrap_or(last)
    }

    /// As a person reads it: "every 2 weeks", "every month", "every quarter".
    pub fn describe(self) -> String {
        match (self.every, self.unit) {
            (3, CadenceUnit::Months) => "every quarter".into(),
            (1, unit) => format!("every {}", unit.word(1)),
            (n, unit) => format!("every {n} {}", unit.word(n.into())),
        }
    }
}

impl CadenceUnit {
    fn word(self, n: u32) -> &'static str {
        match (self, n == 1) {
            (CadenceUnit::Days, true) => "day",
            (CadenceUnit::Days, false) => "days",
            (CadenceUnit::Weeks, true) => "week",
            (CadenceUnit::Weeks, false) => "weeks",
            (CadenceUnit::Months, true) => "month",
            (CadenceUnit::Months, false) => "months",
        }
    }

    fn letter(self) -> char {
        match self {
            CadenceUnit::Days => 'd',
            CadenceUnit::Weeks => 'w',
            CadenceUnit::Months => 'm',
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.every, self.unit.letter())
    }
}

/// Reads its spelling (`2w`) and what people type: `fortnight`, `month`,
/// `quarter`, `2 weeks`, `every 10 days`, `6 months`.
impl FromStr for Cadence {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cadence, Error> {
        let text = s.trim().to_lowercase();
        let text = text.strip_prefix("every").unwrap_or(&text).trim();
        match text {
            "fortnight" | "fortnightly" | "two weeks" => return Ok(Cadence::FORTNIGHTLY),
            "month" | "monthly" => return Ok(Cadence::MONTHLY),
            "quarter" | "quarterly" => return Ok(Cadence::QUARTERLY),
            "week" | "weekly" => return Cadence::new(1, CadenceUnit::Weeks),
            "day" | "daily" => return Cadence::new(1, CadenceUnit::Days),
            "year" | "yearly" => return Cadence::new(12, CadenceUnit::Months),
            _ => {}
        }
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let (number, rest) = text.split_at(digits);
        let unit = match rest.trim() {
            "d" | "day" | "days" => Some(CadenceUnit::Days),
            "w" | "week" | "weeks" => Some(CadenceUnit::Weeks),
            "m" | "month" | "months" => Some(CadenceUnit::Months),
            _ => None,
        };
        match (number.parse::<u32>(), unit) {
            (Ok(n), Some(unit)) => Cadence::new(n, unit),
            _ => Err(Error::invalid(format!(
                "'{}' is not a cadence: say 2w, month, quarter or a number of days, weeks or months (30d, 6w, 2m)",
                s.trim()
            ))),
        }
    }
}

impl Serialize for Cadence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cadence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl ToSql for Cadence {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Cadence {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: Error| FromSqlError::Other(Box::new(e)))
    }
}

impl Reconcile for Cadence {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for Cadence {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        s.parse()
            .map_err(|_| HydrateError::unexpected("a cadence (2w, 1m, 30d)", s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn a_cadence_reads_what_people_type_and_writes_one_spelling() {
        for (typed, spelled, said) in [
            ("2w", "2w", "every 2 weeks"),
            ("fortnight", "2w", "every 2 weeks"),
            ("Month", "1m", "every month"),
            ("every quarter", "3m", "every quarter"),
            ("10 days", "10d", "every 10 days"),
            ("6 months", "6m", "every 6 months"),
            ("weekly", "1w", "every week"),
        ] {
            let c: Cadence = typed.parse().unwrap();
            assert_eq!(c.to_string(), spelled, "{typed}");
            assert_eq!(c.describe(), said, "{typed}");
            assert_eq!(spelled.parse::<Cadence>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{spelled}\""));
            assert_eq!(serde_json::from_str::<Cadence>(&json).unwrap(), c);
        }
        for bad in ["", "0d", "soon", "2", "w", "99999d", "100m", "-3w"] {
            let err = bad.parse::<Cadence>().unwrap_err().to_string();
            assert!(err.contains("cadence"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_month_is_a_calendar_month_and_the_end_of_a_month_stays_in_the_next() {
        assert_eq!(
            Cadence::MONTHLY.due_after(day("2026-01-15")),
            day("2026-02-15")
        );
        assert_eq!(
            Cadence::MONTHLY.due_after(day("2026-01-31")),
            day("2026-02-28")
        );
        assert_eq!(
            Cadence::QUARTERLY.due_after(day("2026-11-30")),
            day("2027-02-28")
        );
        assert_eq!(
            Cadence::FORTNIGHTLY.due_after(day("2026-12-25")),
            day("2027-01-08")
        );
        let ten: Cadence = "10d".parse().unwrap();
        assert_eq!(ten.due_after(day("2026-12-25")), day("2027-01-04"));
    }
}
