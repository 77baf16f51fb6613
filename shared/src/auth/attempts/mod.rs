//! Failed-login limits for POST /auth/token: which counters an attempt touches, and whether it
//! may go on to the password check.
//!
//! Three counters, so that nobody can lock a real user out (docs/design.md, "Login abuse"):
//! - per (username, source address): strict, a few failures per window;
//! - per source address: strict, more failures per window (one address guessing many names);
//! - per username across every address: never a refusal of the window's length, only a
//!   required wait between attempts that doubles with recent failures, up to a cap.
//!
//! A source address the user logged in from within `known_for` is *known* for that user: its
//! attempts skip the last two (someone else's failures, at this address or anywhere, never
//! slow the user where they usually log in), and keep the first.
//!
//! Every decision is made before the password is checked and its counts are taken at once, as
//! if the attempt failed; a success gives its own counts back. Parallel requests therefore
//! cannot slip more guesses past a limit than it allows.

mod dynamo;
mod source;

pub use dynamo::DynamoLoginAttempts;
pub use source::{AddressTrust, SourceAddress, client_address};

use crate::domain::Timestamp;
use crate::store::StoreError;
use crate::users::Username;
use std::future::Future;

/// The limits, from the environment (template parameters) with these defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    /// Length of the fixed windows the two strict counters count in.
    pub window_ms: i64,
    /// Failures one address may make for one username per window.
    pub per_user_and_source: u32,
    /// Failures one address may make for all usernames together per window.
    pub per_source: u32,
    /// Failures a username may collect from unknown addresses before any wait is required.
    pub free_per_user: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay_ms: i64,
    /// The longest wait: what bounds distributed guessing, and what a real user on a new
    /// address waits at most.
    pub max_delay_ms: i64,
    /// A username's failures are forgotten this long after its last one.
    pub user_memory_ms: i64,
    /// How long a successful login makes its address known for the user.
    pub known_for_ms: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            window_ms: 15 * 60 * 1000,
            per_user_and_source: 5,
            per_source: 30,
            free_per_user: 5,
            first_delay_ms: 1000,
            max_delay_ms: 60 * 1000,
            user_memory_ms: 15 * 60 * 1000,
            known_for_ms: 30 * 24 * 3600 * 1000,
        }
    }
}

impl LoginLimits {
    /// `LOGIN_FAILURES_PER_USER_AND_SOURCE`, `LOGIN_FAILURES_PER_SOURCE`,
    /// `LOGIN_MAX_DELAY_SECONDS`, `LOGIN_WINDOW_SECONDS`, each defaulting on its own.
    pub fn from_env() -> Result<LoginLimits, crate::config::BadNumber> {
        use crate::config::env_u64;
        let d = LoginLimits::default();
        let seconds = |ms: i64| u64::try_from(ms / 1000).unwrap_or(1);
        let count = |n: u32| u64::from(n);
        let pair = env_u64(
            "LOGIN_FAILURES_PER_USER_AND_SOURCE",
            count(d.per_user_and_source),
            1,
            1000,
        )?;
        let source = env_u64("LOGIN_FAILURES_PER_SOURCE", count(d.per_source), 1, 100_000)?;
        let max_delay = env_u64("LOGIN_MAX_DELAY_SECONDS", seconds(d.max_delay_ms), 1, 3600)?;
        let window = env_u64("LOGIN_WINDOW_SECONDS", seconds(d.window_ms), 10, 86_400)?;
        // The ranges above keep every value well inside u32 and i64.
        let ms = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 1000) * 1000;
        Ok(LoginLimits {
            window_ms: ms(window),
            per_user_and_source: u32::try_from(pair).unwrap_or(u32::MAX),
            per_source: u32::try_from(source).unwrap_or(u32::MAX),
            max_delay_ms: ms(max_delay),
            user_memory_ms: ms(window),
            ..d
        })
    }

    /// The wait a username's `failures` (from unknown addresses, recent) require after the
    /// last of them: none up to `free_per_user`, then `first_delay`, doubling, capped.
    pub fn user_delay_ms(&self, failures: u32) -> i64 {
        match failures.checked_sub(self.free_per_user) {
            None => 0,
            Some(over) => {
                let factor = 1_i64.checked_shl(over.min(40)).unwrap_or(i64::MAX);
                self.first_delay_ms
                    .saturating_mul(factor)
                    .min(self.max_delay_ms)
            }
        }
    }

    /// The window `now` falls in: its number (part of the counters' keys) and its end.
    pub fn window(&self, now: Timestamp) -> Window {
        let index = now.millis().div_euclid(self.window_ms.max(1));
        Window {
            index,
            end: Timestamp::from_millis((index + 1).saturating_mul(self.window_ms)),
        }
    }

    /// Whether an attempt may go on, given the counters as they were read.
    pub fn decide(&self, seen: &Observed, now: Timestamp) -> Decision {
        let window_left = self.window(now).end.millis() - now.millis();
        let mut waits = Vec::new();
        if seen.pair_failures >= self.per_user_and_source {
            waits.push((Limit::UserAndSource, window_left));
        }
        if !seen.known {
            if seen.source_failures >= self.per_source {
                waits.push((Limit::Source, window_left));
            }
            let failures = self.recent_user_failures(&seen.user, now);
            let until = seen.user.last_failure.map_or(0, |t| {
                t.millis().saturating_add(self.user_delay_ms(failures))
            });
            if until > now.millis() {
                waits.push((Limit::User, until - now.millis()));
            }
        }
        match waits.into_iter().max_by_key(|(_, wait)| *wait) {
            Some((limit, wait)) => Decision::Refuse(Refusal {
                limit,
                retry_after_seconds: seconds_up(wait),
            }),
            None => Decision::Admit,
        }
    }

    /// The username's failures still remembered at `now`.
    pub fn recent_user_failures(&self, user: &UserFailures, now: Timestamp) -> u32 {
        match user.last_failure {
            Some(t) if now.millis() - t.millis() < self.user_memory_ms => user.failures,
            _ => 0,
        }
    }
}

/// Whole seconds, rounded up, at least 1: what `Retry-After` says.
fn seconds_up(ms: i64) -> u64 {
    u64::try_from(ms.max(1).saturating_add(999) / 1000).unwrap_or(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: i64,
    pub end: Timestamp,
}

/// What the counters held when an attempt began.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub pair_failures: u32,
    pub source_failures: u32,
    /// The user logged in from this address recently.
    pub known: bool,
    pub user: UserFailures,
}

/// A username's failures from unknown addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFailures {
    pub failures: u32,
    pub last_failure: Option<Timestamp>,
    /// The id of the attempt that last wrote the record: each attempt replaces it only if it
    /// is still the one it read, so concurrent attempts cannot share one free slot.
    pub claim: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit,
    Refuse(Refusal),
}

/// Which limit refused an attempt (for the log; the client's answer is the same for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    UserAndSource,
    Source,
    User,
    /// Another attempt on the same counters won the race; retrying shortly is fine.
    Concurrent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    pub retry_after_seconds: u64,
}

/// One login attempt's counter keys: the username as given (one bucket for every name that
/// cannot be a username, which no real user shares) and the source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    user: String,
    source: SourceAddress,
}

impl AttemptKey {
    pub fn new(username: Option<&Username>, source: SourceAddress) -> Self {
        AttemptKey {
            // `~` is outside the username alphabet: no real user's counters.
            user: username.map_or_else(|| "~".to_owned(), |u| u.as_str().to_owned()),
            source,
        }
    }

    /// `#` is in neither usernames nor addresses, so keys of different kinds cannot collide.
    fn pair(&self, window: Window) -> String {
        format!("pair#{}#{}#{}", window.index, self.user, self.source)
    }

    fn source(&self, window: Window) -> String {
        format!("source#{}#{}", window.index, self.source)
    }

    fn known(&self) -> String {
        format!("known#{}#{}", self.user, self.source)
    }

    fn user(&self) -> String {
        format!("user#{}", self.user)
    }
}

/// What an admitted attempt took, to give back if it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    key: AttemptKey,
    window: Window,
    /// The source and username counters were taken (the address was not known).
    counted_unknown: bool,
    claim: String,
}

#[cfg(test)]
impl Reservation {
    /// A reservation of nothing, for handler tests that admit every attempt.
    pub(crate) fn for_tests(key: AttemptKey) -> Self {
        Reservation {
            key,
            window: Window {
                index: 0,
                end: Timestamp::from_millis(0),
            },
            counted_unknown: false,
            claim: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Admitted(Reservation),
    Refused(Refusal),
}

/// The failed-login counters (DynamoDB in a stage).
pub trait LoginAttempts: Send + Sync {
    /// Decides an attempt and, when it may go on, counts it as a failure.
    fn begin(
        &self,
        key: &AttemptKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// The password was right: gives the attempt's counts back, forgets the address's failures
    /// for this user and makes the address known for them.
    fn succeeded(
        &self,
        reservation: &Reservation,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn user(failures: u32, last: i64) -> UserFailures {
        UserFailures {
            failures,
            last_failure: Some(at(last)),
            claim: None,
        }
    }

    #[test]
    fn the_username_wait_is_free_then_doubles_up_to_its_cap() {
        let limits = LoginLimits::default();
        let waits: Vec<i64> = (0..=13).map(|f| limits.user_delay_ms(f)).collect();
        assert_eq!(
            waits,
            [
                0, 0, 0, 0, 0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000
            ]
        );
        assert_eq!(limits.user_delay_ms(u32::MAX), 60_000, "no overflow");
    }

    #[test]
    fn an_address_is_refused_for_a_user_after_its_failures_until_the_window_ends() {
        let limits = LoginLimits::default();
        let now = at(limits.window(at(NOW)).end.millis() - 90_500);
        let seen = Observed {
            pair_failures: 4,
            ..Observed::default()
        };
        assert_eq!(limits.decide(&seen, now), Decision::Admit);
        let seen = Observed {
            pair_failures: 5,
            ..seen
        };
        assert_eq!(
            limits.decide(&seen, now),
            Decision::Refuse(Refusal {
                limit: Limit::UserAndSource,
                retry_after_seconds: 91
            })
        );
        let known = Observed {
            known: true,
            ..seen
        };
        assert!(
            matches!(limits.decide(&known, now), Decision::Refuse(_)),
            "a known address keeps its strict per-user limit"
        );
    }

    #[test]
    fn an_address_guessing_many_names_is_refused_but_not_for_users_it_is_known_for() {
        let limits = LoginLimits::default();
        let seen = Observed {
            source_failures: 30,
            ..Observed::default()
        };
        assert!(matches!(
            limits.decide(&seen, at(NOW)),
            Decision::Refuse(Refusal {
                limit: Limit::Source,
                ..
            })
        ));
        let known = Observed {
            known: true,
            ..seen
        };
        assert_eq!(limits.decide(&known, at(NOW)), Decision::Admit);
    }

    #[test]
    fn a_username_failing_everywhere_only_waits_and_never_where_it_is_known() {
        let limits = LoginLimits::default();
        // 7 recent failures from elsewhere: 4 s after the last one.
        let seen = Observed {
            user: user(7, NOW - 1500),
            ..Observed::default()
        };
        assert_eq!(
            limits.decide(&seen, at(NOW)),
            Decision::Refuse(Refusal {
                limit: Limit::User,
                retry_after_seconds: 3
            })
        );
        assert_eq!(limits.decide(&seen, at(NOW + 2500)), Decision::Admit);
        let known = Observed {
            known: true,
            ..seen.clone()
        };
        assert_eq!(limits.decide(&known, at(NOW)), Decision::Admit);
        // However many failures, the wait is at most the cap: never a lockout.
        let storm = Observed {
            user: user(1_000_000, NOW),
            ..Observed::default()
        };
        assert_eq!(
            limits.decide(&storm, at(NOW)),
            Decision::Refuse(Refusal {
                limit: Limit::User,
                retry_after_seconds: 60
            })
        );
        assert_eq!(limits.decide(&storm, at(NOW + 60_000)), Decision::Admit);
    }

    #[test]
    fn a_usernames_failures_are_forgotten_after_a_quiet_spell() {
        let limits = LoginLimits::default();
        let old = user(50, NOW - limits.user_memory_ms);
        assert_eq!(limits.recent_user_failures(&old, at(NOW)), 0);
        let recent = user(50, NOW - limits.user_memory_ms + 1);
        assert_eq!(limits.recent_user_failures(&recent, at(NOW)), 50);
    }

    #[test]
    fn the_longest_wait_is_the_one_announced() {
        let limits = LoginLimits::default();
        let start = limits.window(at(NOW)).end.millis() - limits.window_ms;
        let seen = Observed {
            pair_failures: 9,
            user: user(20, start),
            ..Observed::default()
        };
        assert_eq!(
            limits.decide(&seen, at(start + 1000)),
            Decision::Refuse(Refusal {
                limit: Limit::UserAndSource,
                retry_after_seconds: limits.window_ms as u64 / 1000 - 1
            })
        );
    }

    #[test]
    fn keys_of_different_kinds_and_windows_never_collide() -> Result<(), String> {
        let source = SourceAddress::parse("203.0.113.9").ok_or("address")?;
        let alice = Username::parse("alice")?;
        let key = AttemptKey::new(Some(&alice), source.clone());
        let odd = AttemptKey::new(None, source);
        let limits = LoginLimits::default();
        let w1 = limits.window(at(NOW));
        let w2 = limits.window(at(NOW + limits.window_ms));
        let all = [
            key.pair(w1),
            key.pair(w2),
            key.source(w1),
            key.known(),
            key.user(),
            odd.pair(w1),
            odd.user(),
        ];
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        assert_eq!(key.pair(w1), format!("pair#{}#alice#203.0.113.9", w1.index));
        Ok(())
    }

    #[test]
    fn the_environment_sets_the_strict_limits_and_the_cap() {
        // Unset variables give the defaults (the test environment sets none of these).
        assert_eq!(LoginLimits::from_env().ok(), Some(LoginLimits::default()));
    }
}
