//! What a report asks for, as types: a window of whole `days`, filters, a page.

use crate::domain::{CardType, Country, Currency, Day, MS_PER_DAY, Timestamp};

/// The report window length, 1 ... 3650 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an integer from 1 to 3650")]
pub struct InvalidDays;

impl Days {
    pub const MAX: u16 = 3650;

    pub fn new(days: i64) -> Result<Self, InvalidDays> {
        u16::try_from(days)
            .ok()
            .filter(|d| (1..=Self::MAX).contains(d))
            .map(Days)
            .ok_or(InvalidDays)
    }

    pub fn get(&self) -> u16 {
        self.0
    }
}

/// `[from, to]`, both inclusive, in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Window {
    /// The last n days: now − n·86 400 000 ms … now.
    pub fn last(days: Days, now: Timestamp) -> Self {
        let span = i64::from(days.get()) * MS_PER_DAY;
        Window {
            from: Timestamp::from_millis(now.millis() - span),
            to: now,
        }
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t <= self.to
    }

    pub fn first_day(&self) -> Day {
        self.from.day()
    }

    pub fn last_day(&self) -> Day {
        self.to.day()
    }
}

/// Inclusive bounds on the amount in minor units; at least one is set when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AmountRange {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl AmountRange {
    pub fn is_set(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    pub fn contains(&self, amount: u64) -> bool {
        self.min.is_none_or(|m| amount >= m) && self.max.is_none_or(|m| amount <= m)
    }
}

/// The optional, combinable filters of GET /transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransactionFilter {
    pub card_type: Option<CardType>,
    pub country: Option<Country>,
    pub amount: AmountRange,
    pub currency: Option<Currency>,
}

/// A place in the newest-first order (created_at, then id, both descending). A page that
/// resumes after it returns only transactions strictly older.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub created_at: Timestamp,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub window: Window,
    pub filter: TransactionFilter,
    pub limit: u16,
    pub after: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRequest {
    pub window: Window,
    pub card_type: CardType,
    pub country: Option<Country>,
}

/// What a report read, for the benchmarks and the logs: the items DynamoDB examined
/// (ScannedCount, aggregates included) and the queries sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStats {
    pub items_read: u64,
    pub queries: u64,
}

impl ReadStats {
    pub fn add(&mut self, other: ReadStats) {
        self.items_read += other.items_read;
        self.queries += other.queries;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_days_from_1_to_3650_only() {
        for bad in [0, -1, 3651, i64::MAX, i64::MIN] {
            assert_eq!(Days::new(bad), Err(InvalidDays), "{bad}");
        }
        assert!(Days::new(1).is_ok() && Days::new(3650).is_ok());
    }

    #[test]
    fn a_window_of_n_days_ends_now_and_spans_n_times_86_400_000_ms() -> Result<(), InvalidDays> {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let window = Window::last(Days::new(2)?, now);
        assert_eq!(window.to, now);
        assert_eq!(window.from.millis(), now.millis() - 172_800_000);
        assert!(window.contains(window.from) && window.contains(now));
        assert!(!window.contains(Timestamp::from_millis(now.millis() + 1)));
        Ok(())
    }
}
