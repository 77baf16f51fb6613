//! Unix-millisecond timestamps, UTC days, and an injectable clock.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn millis(&self) -> i64 {
        self.0
    }

    pub const fn plus(&self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// The calendar year and month (1–12) in UTC, for card expiry checks.
    pub fn year_month(&self) -> (i32, u8) {
        let date = self.day().date();
        (date.year(), u8::from(date.month()))
    }

    pub fn day(&self) -> Day {
        Day(self.0.div_euclid(MS_PER_DAY))
    }
}

/// A UTC calendar day, counted from 1970-01-01. Days key the report indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    pub const fn from_epoch_days(days: i64) -> Self {
        Day(days)
    }

    pub const fn epoch_days(&self) -> i64 {
        self.0
    }

    pub fn previous(&self) -> Day {
        Day(self.0 - 1)
    }

    pub fn next(&self) -> Day {
        Day(self.0 + 1)
    }

    pub fn start(&self) -> Timestamp {
        Timestamp(self.0 * MS_PER_DAY)
    }

    fn date(&self) -> time::Date {
        i32::try_from(self.0)
            .ok()
            .and_then(|d| d.checked_add(UNIX_EPOCH_JULIAN_DAY))
            .and_then(|j| time::Date::from_julian_day(j).ok())
            .unwrap_or(time::Date::MIN)
    }

    /// Parses the `YYYY-MM-DD` form [`Display`](fmt::Display) writes.
    pub fn parse(text: &str) -> Option<Day> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(text, &format).ok()?;
        Some(Day(i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)))
    }
}

const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let julian = i32::try_from(self.0)
            .ok()
            .and_then(|d| d.checked_add(UNIX_EPOCH_JULIAN_DAY));
        match julian.and_then(|j| time::Date::from_julian_day(j).ok()) {
            Some(date) => write!(
                f,
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
            None => write!(f, "day{}", self.0),
        }
    }
}

/// Where "now" comes from; injected so that no test depends on today's date.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp(ms)
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_days_as_iso_dates() {
        assert_eq!(Timestamp::from_millis(0).day().to_string(), "1970-01-01");
        assert_eq!(
            Timestamp::from_millis(1_700_000_000_000).day().to_string(),
            "2023-11-14"
        );
        assert_eq!(Timestamp::from_millis(-1).day().to_string(), "1969-12-31");
    }

    proptest! {
        #[test]
        fn a_timestamp_lies_within_its_day(ms in 0i64..4_102_444_800_000) {
            let t = Timestamp::from_millis(ms);
            prop_assert!(t.day().start() <= t && t < t.day().next().start());
        }

        #[test]
        fn days_round_trip_through_text(days in 0i64..200_000) {
            let day = Day::from_epoch_days(days);
            prop_assert_eq!(Day::parse(&day.to_string()), Some(day));
        }
    }
}
