//! How the simulated gateway behaves: latency, transient failures and their kinds, declines.
//!
//! Every decision is a pure function of the seed and the request's identity (payment id, or
//! refund id, and the attempt number), never of arrival order: a run with the same seed and
//! the same payments makes the same decisions however the requests interleave.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A transient failure, as SPEC §5 lists them: the client must retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// 503 Service Unavailable.
    ServerError,
    /// 429 Too Many Requests.
    Throttle,
    /// No answer for `hang` (longer than any sane client timeout), then 504.
    Timeout,
    /// The connection breaks before a response.
    Reset,
    /// The payment is charged (or declined) and recorded, then the answer is lost as in
    /// `timeout`: the ambiguous outcome, where the client cannot know the gateway acted. A
    /// re-send is answered from the record (a duplicate), and that answer is lost too while
    /// this failure lasts. Payments only; a refund takes it as `timeout`.
    ChargedTimeout,
    /// Charged (or declined) and recorded, then the connection breaks as in `reset`.
    ChargedReset,
}

impl FailureKind {
    /// Whether the gateway acts on the call before the failure (the answer alone is lost).
    pub fn acts_first(self) -> bool {
        match self {
            FailureKind::ChargedTimeout | FailureKind::ChargedReset => true,
            FailureKind::ServerError
            | FailureKind::Throttle
            | FailureKind::Timeout
            | FailureKind::Reset => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    /// Time before each answer, in milliseconds.
    pub latency_ms: u64,
    /// Up to this much more, in milliseconds (deterministic per request).
    pub jitter_ms: u64,
    /// Share of gateway calls (payments and refunds) that fail transiently, 0 to 1.
    pub failure_rate: f64,
    /// The kinds a transient failure takes, chosen evenly.
    pub failures: Vec<FailureKind>,
    /// Share of payments declined (a final 402), 0 to 1; the same payment is always declined.
    pub decline_rate: f64,
    /// How long a `timeout` failure keeps the client waiting, in milliseconds.
    pub hang_ms: u64,
    /// Share of log-service calls answered 503, 0 to 1.
    pub log_failure_rate: f64,
    pub seed: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            latency_ms: 0,
            jitter_ms: 0,
            failure_rate: 0.0,
            failures: vec![
                FailureKind::ServerError,
                FailureKind::Throttle,
                FailureKind::Timeout,
                FailureKind::Reset,
            ],
            decline_rate: 0.0,
            hang_ms: 30_000,
            log_failure_rate: 0.0,
            seed: 0,
        }
    }
}

impl Behaviour {
    /// Refuses rates outside 0..1 and an empty failure list with a non-zero failure rate.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("failure_rate", self.failure_rate),
            ("decline_rate", self.decline_rate),
            ("log_failure_rate", self.log_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be from 0 to 1, not {rate}"));
            }
        }
        if self.failure_rate > 0.0 && self.failures.is_empty() {
            return Err("failures must name at least one kind when failure_rate > 0".to_owned());
        }
        Ok(())
    }

    fn rng(&self, parts: &[&str], attempt: u32) -> ChaCha8Rng {
        let mut hash = fnv1a(self.seed.to_le_bytes().as_slice(), FNV_OFFSET);
        for part in parts {
            hash = fnv1a(part.as_bytes(), hash);
            hash = fnv1a(&[0xff], hash);
        }
        hash = fnv1a(&attempt.to_le_bytes(), hash);
        ChaCha8Rng::seed_from_u64(hash)
    }

    /// The delay before answering this attempt.
    pub fn delay(&self, id: &str, attempt: u32) -> Duration {
        let jitter = if self.jitter_ms == 0 {
            0
        } else {
            self.rng(&["jitter", id], attempt)
                .random_range(0..=self.jitter_ms)
        };
        Duration::from_millis(self.latency_ms.saturating_add(jitter))
    }

    /// Whether this attempt fails transiently, and how.
    pub fn transient_failure(&self, id: &str, attempt: u32) -> Option<FailureKind> {
        let mut rng = self.rng(&["fail", id], attempt);
        if self.failures.is_empty() || !rng.random_bool(self.failure_rate) {
            return None;
        }
        let index = rng.random_range(0..self.failures.len());
        self.failures.get(index).copied()
    }

    /// Whether this payment is declined (the same answer on every attempt).
    pub fn declines(&self, payment_id: &str) -> bool {
        self.rng(&["decline", payment_id], 0)
            .random_bool(self.decline_rate)
    }

    /// Whether this log-service call fails.
    pub fn log_fails(&self, key: &str, attempt: u32) -> bool {
        self.rng(&["log", key], attempt)
            .random_bool(self.log_failure_rate)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a tiny, stable hash (std's hasher may change between Rust releases, which would
/// change what a seed means).
fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behaviour(failure_rate: f64, decline_rate: f64) -> Behaviour {
        Behaviour {
            failure_rate,
            decline_rate,
            seed: 7,
            ..Behaviour::default()
        }
    }

    #[test]
    fn rates_hold_over_many_payments_and_decisions_repeat() {
        let b = behaviour(0.2, 0.05);
        let ids: Vec<String> = (0..10_000).map(|i| format!("pay-{i}")).collect();
        let failed = ids
            .iter()
            .filter(|id| b.transient_failure(id, 1).is_some())
            .count();
        let declined = ids.iter().filter(|id| b.declines(id)).count();
        assert!((1_800..2_200).contains(&failed), "{failed}");
        assert!((400..600).contains(&declined), "{declined}");
        for id in ids.iter().take(100) {
            assert_eq!(b.transient_failure(id, 1), b.transient_failure(id, 1));
            assert_eq!(b.declines(id), b.declines(id));
        }
        let other_seed = Behaviour {
            seed: 8,
            ..b.clone()
        };
        let same = ids
            .iter()
            .filter(|id| b.declines(id) == other_seed.declines(id))
            .count();
        assert!(same < ids.len(), "the seed changes the decisions");
    }

    #[test]
    fn a_retry_is_a_new_draw_so_transient_failures_end() {
        let b = behaviour(0.5, 0.0);
        let id = "pay-retry";
        assert!((1..50).any(|attempt| b.transient_failure(id, attempt).is_none()));
    }

    #[test]
    fn every_kind_occurs_and_none_without_a_rate() {
        let b = behaviour(1.0, 0.0);
        for kind in &b.failures {
            assert!((0..200).any(|i| b.transient_failure(&format!("p{i}"), 1) == Some(*kind)));
        }
        assert!((0..200).all(|i| {
            behaviour(0.0, 0.0)
                .transient_failure(&format!("p{i}"), 1)
                .is_none()
        }));
    }

    #[test]
    fn refuses_rates_outside_zero_to_one() {
        assert!(behaviour(1.5, 0.0).check().is_err());
        assert!(behaviour(0.1, -0.1).check().is_err());
        let none = Behaviour {
            failures: vec![],
            ..behaviour(0.1, 0.0)
        };
        assert!(none.check().is_err());
        assert!(behaviour(0.2, 0.05).check().is_ok());
    }
}
