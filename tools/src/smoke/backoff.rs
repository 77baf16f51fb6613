//! The waits between polls of a payment that is not final yet: doubling from a short first
//! wait up to a cap, never past the deadline, so a slow stage is not hammered and a fast one
//! is not kept waiting.

use std::time::Duration;

/// Successive waits: `first`, `2·first`, … up to `cap`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            next: first.min(cap),
            cap,
        }
    }

    /// The next wait, cut to what is left before the deadline; `None` once nothing is left.
    pub fn next_wait(&mut self, left: Duration) -> Option<Duration> {
        if left.is_zero() {
            return None;
        }
        let wait = self.next.min(left);
        self.next = self.next.saturating_mul(2).min(self.cap);
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_each_wait_up_to_the_cap() {
        let mut backoff = Backoff::new(MS(250), MS(2000));
        let waits: Vec<_> = (0..6)
            .filter_map(|_| backoff.next_wait(Duration::from_secs(60)))
            .collect();
        assert_eq!(
            waits,
            [MS(250), MS(500), MS(1000), MS(2000), MS(2000), MS(2000)]
        );
    }

    #[test]
    fn never_waits_past_the_deadline() {
        let mut backoff = Backoff::new(MS(250), MS(2000));
        assert_eq!(backoff.next_wait(MS(100)), Some(MS(100)));
        assert_eq!(backoff.next_wait(Duration::ZERO), None);
    }

    #[test]
    fn a_first_wait_above_the_cap_is_cut_to_the_cap() {
        let mut backoff = Backoff::new(MS(5000), MS(2000));
        assert_eq!(backoff.next_wait(Duration::from_secs(60)), Some(MS(2000)));
    }
}
