//! Which index answers a list report, and how: the most selective key first, the other filters
//! as a FilterExpression on that index's items.

use super::expr::{Expr, n, s};
use super::request::{AmountRange, TransactionFilter, Window};
use crate::domain::Day;
use crate::store::keys::{self, attr, index};

/// How the items of one day are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Partitions ordered by time: read newest first, merged across shards.
    ByTime {
        index: &'static str,
        partition: Partition,
    },
    /// Partitions of one day ordered by amount: read the amount range, then order by time.
    ByAmount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Day,
    CardTypeDay,
    CountryDay,
}

impl Plan {
    pub fn choose(filter: &TransactionFilter) -> Plan {
        if filter.card_type.is_some() {
            Plan::ByTime {
                index: index::BY_CARD_TYPE_DAY,
                partition: Partition::CardTypeDay,
            }
        } else if filter.country.is_some() {
            Plan::ByTime {
                index: index::BY_COUNTRY_DAY,
                partition: Partition::CountryDay,
            }
        } else if filter.amount.is_set() {
            Plan::ByAmount
        } else {
            Plan::ByTime {
                index: index::BY_DAY,
                partition: Partition::Day,
            }
        }
    }

    pub fn index(&self) -> &'static str {
        match self {
            Plan::ByTime { index, .. } => index,
            Plan::ByAmount => index::BY_DAY_AMOUNT,
        }
    }

    /// The partition key attribute and value of one shard of one day.
    pub fn partition(
        &self,
        filter: &TransactionFilter,
        day: Day,
        shard: u8,
    ) -> (&'static str, String) {
        match self {
            Plan::ByTime {
                partition: Partition::CardTypeDay,
                ..
            } => match filter.card_type {
                Some(card_type) => (
                    attr::RPT_CARD_DAY,
                    keys::card_day_partition(card_type, day, shard),
                ),
                None => (attr::RPT_DAY, keys::day_partition(day, shard)),
            },
            Plan::ByTime {
                partition: Partition::CountryDay,
                ..
            } => match filter.country {
                Some(country) => (
                    attr::RPT_COUNTRY_DAY,
                    keys::country_day_partition(country, day, shard),
                ),
                None => (attr::RPT_DAY, keys::day_partition(day, shard)),
            },
            Plan::ByTime {
                partition: Partition::Day,
                ..
            }
            | Plan::ByAmount => (attr::RPT_DAY, keys::day_partition(day, shard)),
        }
    }

    /// The expression for one shard of one day. `upper` is the highest time key wanted
    /// (inclusive; the caller drops the item equal to a resume position).
    pub fn expression(
        &self,
        filter: &TransactionFilter,
        window: &Window,
        day: Day,
        shard: u8,
        upper: &str,
    ) -> Expr {
        let mut e = Expr::default();
        let (pk_attr, pk) = self.partition(filter, day, shard);
        let (pk_name, pk_value) = (e.name(pk_attr), e.value(s(pk)));
        e.key(format!("{pk_name} = {pk_value}"));
        match self {
            Plan::ByTime { partition, .. } => {
                let (lower, _) = keys::time_key_bounds(window.from, window.to);
                let (sk, lo, hi) = (e.name(attr::RPT_TIME), e.value(s(lower)), e.value(s(upper)));
                e.key(format!("{sk} BETWEEN {lo} AND {hi}"));
                if *partition != Partition::CardTypeDay
                    && let Some(card_type) = filter.card_type
                {
                    let (a, v) = (e.name(attr::CARD_TYPE), e.value(s(card_type.as_str())));
                    e.filter(format!("{a} = {v}"));
                }
                if *partition != Partition::CountryDay
                    && let Some(country) = filter.country
                {
                    let (a, v) = (e.name(attr::COUNTRY), e.value(s(country.code())));
                    e.filter(format!("{a} = {v}"));
                }
                amount_filter(&mut e, &filter.amount);
            }
            Plan::ByAmount => {
                amount_key(&mut e, &filter.amount);
                let (lower, _) = keys::time_key_bounds(window.from, window.to);
                let (t, lo, hi) = (e.name(attr::RPT_TIME), e.value(s(lower)), e.value(s(upper)));
                e.filter(format!("{t} BETWEEN {lo} AND {hi}"));
            }
        }
        if let Some(currency) = filter.currency {
            let (a, v) = (e.name(attr::CURRENCY), e.value(s(currency.code())));
            e.filter(format!("{a} = {v}"));
        }
        e
    }
}

fn amount_key(e: &mut Expr, range: &AmountRange) {
    let a = e.name(attr::AMOUNT);
    match (range.min, range.max) {
        (Some(min), Some(max)) => {
            let (lo, hi) = (e.value(n(min)), e.value(n(max)));
            e.key(format!("{a} BETWEEN {lo} AND {hi}"));
        }
        (Some(min), None) => {
            let lo = e.value(n(min));
            e.key(format!("{a} >= {lo}"));
        }
        (None, Some(max)) => {
            let hi = e.value(n(max));
            e.key(format!("{a} <= {hi}"));
        }
        (None, None) => {}
    }
}

fn amount_filter(e: &mut Expr, range: &AmountRange) {
    if !range.is_set() {
        return;
    }
    let a = e.name(attr::AMOUNT);
    if let Some(min) = range.min {
        let lo = e.value(n(min));
        e.filter(format!("{a} >= {lo}"));
    }
    if let Some(max) = range.max {
        let hi = e.value(n(max));
        e.filter(format!("{a} <= {hi}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CardType;

    #[test]
    fn prefers_card_type_then_country_then_amount_then_day() {
        let mut filter = TransactionFilter::default();
        assert_eq!(Plan::choose(&filter).index(), index::BY_DAY);
        filter.amount.min = Some(10);
        assert_eq!(Plan::choose(&filter).index(), index::BY_DAY_AMOUNT);
        filter.country = crate::domain::Country::parse("GB").ok();
        assert_eq!(Plan::choose(&filter).index(), index::BY_COUNTRY_DAY);
        filter.card_type = Some(CardType::Visa);
        assert_eq!(Plan::choose(&filter).index(), index::BY_CARD_TYPE_DAY);
    }

    #[test]
    fn puts_the_filters_the_index_cannot_answer_in_a_filter_expression() {
        let filter = TransactionFilter {
            card_type: Some(CardType::Amex),
            country: crate::domain::Country::parse("DE").ok(),
            amount: AmountRange {
                min: Some(100),
                max: None,
            },
            currency: crate::domain::Currency::parse("EUR").ok(),
        };
        let plan = Plan::choose(&filter);
        let window = Window {
            from: crate::domain::Timestamp::from_millis(0),
            to: crate::domain::Timestamp::from_millis(1),
        };
        let e = plan.expression(&filter, &window, Day::from_epoch_days(0), 0, "x");
        assert_eq!(
            e.key_condition(),
            "#rpt_card_day = :v0 AND #rpt_time BETWEEN :v1 AND :v2"
        );
        assert_eq!(
            e.filter_expression().as_deref(),
            Some("#country = :v3 AND #amount >= :v4 AND #currency = :v5")
        );
    }
}
