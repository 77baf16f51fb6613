//! The layout of the transactions table: key formats, the report index attributes, and the
//! aggregate counters. The table and its indexes themselves are declared once, in template.yaml.

use crate::domain::{CardType, Country, Day, PaymentId, Timestamp};

/// Write shards per report partition: each day's completed payments are spread over this many
/// partitions of every report index. Changing it needs a rewrite of the index attributes.
pub const REPORT_SHARDS: u8 = 4;

/// Partitions of the `by_pending` index: a few, so that no one partition takes every pending
/// write, and few enough that the reconciler reads them all.
pub const PENDING_SHARDS: u8 = 4;

pub mod index {
    pub const BY_DAY: &str = "by_day";
    pub const BY_CARD_TYPE_DAY: &str = "by_card_type_day";
    pub const BY_COUNTRY_DAY: &str = "by_country_day";
    pub const BY_DAY_AMOUNT: &str = "by_day_amount";
    pub const BY_MERCHANT: &str = "by_merchant";
    pub const BY_ACCOUNT: &str = "by_account";
    pub const BY_PENDING: &str = "by_pending";
}

pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const RPT_DAY: &str = "rpt_day";
    pub const RPT_CARD_DAY: &str = "rpt_card_day";
    pub const RPT_COUNTRY_DAY: &str = "rpt_country_day";
    pub const RPT_TIME: &str = "rpt_time";
    pub const AMOUNT: &str = "amount";
    pub const CREATED_AT: &str = "created_at";
    pub const CURRENCY: &str = "currency";
    pub const COUNTRY: &str = "country";
    pub const CARD_TYPE: &str = "card_type";
    pub const MERCHANT: &str = "merchant";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const OTIME: &str = "otime";
    pub const STATUS: &str = "status";
    pub const VERSION: &str = "version";
    pub const PENDING_SHARD: &str = "pending_shard";
    pub const PENDING_SINCE: &str = "pending_since";
    /// Aggregate counter: completed payments of the item's card type on the item's day.
    pub const COUNT: &str = "n";
}

pub const PAYMENT_SK: &str = "PAYMENT";

pub fn payment_pk(id: &PaymentId) -> String {
    format!("PAY#{id}")
}

/// Counter items per (card type, day): each completing payment adds to one picked at random,
/// so that a burst of same-brand payments does not serialise (DynamoDB cancels transactions
/// that meet on one item); a count sums them all. More shards mean fewer conflicts and more
/// items per count read (docs/performance.md, "Sharded day counters").
pub const AGGREGATE_SHARDS: u8 = 8;

/// Partition of the aggregate counters of one card type; its sort key is the day and shard.
pub fn aggregate_pk(card_type: CardType) -> String {
    format!("AGG#{card_type}")
}

/// `<day>#<shard>`. Counters written before sharding have the bare `<day>`: they sort before
/// the day's shards, inside the same bounds, and are summed with them.
pub fn aggregate_sk(day: Day, shard: u8) -> String {
    format!("{day}#{shard}")
}

/// The lowest and highest sort keys of the counters of the days `from..=to`, for BETWEEN.
pub fn aggregate_sk_bounds(from: Day, to: Day) -> (String, String) {
    (from.to_string(), format!("{to}#~"))
}

/// The day of a counter's sort key (sharded or not).
pub fn aggregate_day(sk: &str) -> Option<Day> {
    Day::parse(sk.split('#').next().unwrap_or(sk))
}

/// The aggregate attribute counting one country's completed payments.
pub fn country_count_attr(country: Country) -> String {
    format!("c_{country}")
}

/// Sort key of the time-ordered report indexes: zero-padded milliseconds then the id, so that
/// string order is time order and ties between equal timestamps are broken by id.
pub fn time_key(created_at: Timestamp, id: &str) -> String {
    format!("{:013}#{id}", created_at.millis().max(0))
}

/// The lowest and highest time keys of `[from, to]` (inclusive), for a BETWEEN condition.
pub fn time_key_bounds(from: Timestamp, to: Timestamp) -> (String, String) {
    (
        format!("{:013}#", from.millis().max(0)),
        format!("{:013}#~", to.millis().max(0)),
    )
}

/// Partition of the `by_pending` index (the attribute exists only while a payment is pending).
pub fn pending_partition(shard: u8) -> String {
    format!("PENDING#{shard}")
}

pub fn day_partition(day: Day, shard: u8) -> String {
    format!("{day}#{shard}")
}

pub fn card_day_partition(card_type: CardType, day: Day, shard: u8) -> String {
    format!("{card_type}#{day}#{shard}")
}

pub fn country_day_partition(country: Country, day: Day, shard: u8) -> String {
    format!("{country}#{day}#{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counter_keys_of_a_day_sharded_or_not_lie_inside_its_bounds_and_no_other_days() {
        let day = |d| Day::from_epoch_days(d);
        let (lo, hi) = aggregate_sk_bounds(day(20_000), day(20_002));
        for d in 20_000..=20_002 {
            for key in [
                day(d).to_string(),
                aggregate_sk(day(d), 0),
                aggregate_sk(day(d), AGGREGATE_SHARDS - 1),
            ] {
                assert!(lo <= key && key <= hi, "{key} in [{lo}, {hi}]");
                assert_eq!(aggregate_day(&key), Some(day(d)));
            }
        }
        for outside in [19_999, 20_003] {
            for key in [day(outside).to_string(), aggregate_sk(day(outside), 0)] {
                assert!(!(lo <= key && key <= hi), "{key} outside [{lo}, {hi}]");
            }
        }
    }

    proptest! {
        #[test]
        fn time_keys_sort_as_their_timestamps(a in 0i64..9_999_999_999_999, b in 0i64..9_999_999_999_999) {
            let ka = time_key(Timestamp::from_millis(a), "id");
            let kb = time_key(Timestamp::from_millis(b), "id");
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }

        #[test]
        fn time_key_bounds_enclose_exactly_the_window(t in 0i64..9_999_999_999_999, from in 0i64..9_999_999_999_999, len in 0i64..1_000_000) {
            let to = from + len;
            let key = time_key(Timestamp::from_millis(t), "0b6d5c9e-6c7e-4c8e-9f3a-1a2b3c4d5e6f");
            let (lo, hi) = time_key_bounds(Timestamp::from_millis(from), Timestamp::from_millis(to));
            prop_assert_eq!(lo <= key && key <= hi, (from..=to).contains(&t));
        }
    }
}
