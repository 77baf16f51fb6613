//! What a cold start spends its time on. Lambda reports one Init Duration per cold start; this
//! splits it into the function's own steps (telemetry, AWS configuration, clients, keys) and logs
//! them in one line when the function is ready, so that a slow init shows which step grew. The
//! time before `main` (loading the binary, the Tokio runtime) is Init Duration minus `init_ms`.

use std::fmt::Write;
use std::time::{Duration, Instant};

/// The message of the line [`InitTimer::ready`] logs; `bench cold-start` looks for it.
pub const READY_MESSAGE: &str = "cold start ready";

/// Marks the end of each init step; create it first thing in `main`.
#[derive(Debug)]
pub struct InitTimer {
    started: Instant,
    last: Instant,
    steps: Vec<(&'static str, Duration)>,
}

impl InitTimer {
    pub fn start() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            steps: Vec::new(),
        }
    }

    /// Ends the step that began at the previous mark (or at the start).
    pub fn done(&mut self, step: &'static str) {
        let now = Instant::now();
        self.steps.push((step, now - self.last));
        self.last = now;
    }

    /// `step=1.234` pairs in milliseconds, in order.
    pub fn steps(&self) -> String {
        let mut out = String::new();
        for (step, took) in &self.steps {
            let separator = if out.is_empty() { "" } else { " " };
            let _ = write!(out, "{separator}{step}={:.3}", millis(*took));
        }
        out
    }

    /// Logs the steps and the total, once the function is about to take its first event.
    pub fn ready(self) {
        tracing::info!(
            init_ms = millis(self.started.elapsed()),
            steps_ms = %self.steps(),
            "{READY_MESSAGE}"
        );
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_listed_in_order_with_their_own_durations() {
        let mut timer = InitTimer::start();
        timer.done("config");
        std::thread::sleep(Duration::from_millis(2));
        timer.done("clients");
        let steps = timer.steps();
        let parsed: Vec<(&str, f64)> = steps
            .split(' ')
            .filter_map(|pair| {
                let (name, ms) = pair.split_once('=')?;
                Some((name, ms.parse().ok()?))
            })
            .collect();
        assert_eq!(parsed.len(), 2, "{steps}");
        assert_eq!(parsed[0].0, "config");
        assert_eq!(parsed[1].0, "clients");
        assert!(parsed[1].1 >= 2.0, "the slept step is the second: {steps}");
        assert!(parsed[0].1 < parsed[1].1, "{steps}");
    }
}
