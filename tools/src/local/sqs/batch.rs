//! Gathering one batch as Lambda's SQS poller does: long-poll until the first message arrives,
//! then keep receiving until the batch holds `BatchSize` messages or the batching window
//! (which starts with the first message) has passed. Without a window, one receive is a batch.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use tokio::sync::watch;
use tokio::time::Instant;

/// SQS's longest long poll.
pub const MAX_WAIT_SECONDS: i32 = 20;
/// SQS's most messages per receive.
pub const MAX_MESSAGES_PER_RECEIVE: usize = 10;
/// Pause between two short polls in the last second of a window (SQS waits in whole seconds).
const SHORT_POLL_PAUSE: Duration = Duration::from_millis(100);

/// Receiving: at most `max` messages, waiting up to `wait_seconds` for the first.
///
/// A receive is never abandoned half way: SQS hides the messages of a ReceiveMessage call as it
/// answers, so a call whose answer nobody reads strands them until their visibility timeout
/// (a poller stopped during a long poll did exactly that to the next run's first message).
/// A `stop` instead ends the wait at the end of the poll in flight, with what that poll got.
pub trait Receive: Send + Sync {
    fn receive(
        &self,
        max: i32,
        wait_seconds: i32,
        stop: &watch::Receiver<bool>,
    ) -> impl Future<Output = anyhow::Result<Vec<Message>>> + Send;
}

/// How big a batch may grow and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub size: usize,
    pub window: Duration,
}

/// A batch and, when a receive failed on the way, its error (the batch holds what came before).
#[derive(Debug, Default)]
pub struct Gathered {
    pub messages: Vec<Message>,
    pub error: Option<anyhow::Error>,
}

/// Gathers one batch (possibly empty: no message within one long poll, an error, or `stop`).
/// A `stop` (the watched value becoming true) ends the gathering with what it holds once the
/// receive in flight has answered (see [`Receive`]); the caller delivers that batch.
pub async fn gather<R: Receive>(
    receiver: &R,
    limits: BatchLimits,
    stop: &mut watch::Receiver<bool>,
) -> Gathered {
    let mut gathered = Gathered::default();
    let mut deadline: Option<Instant> = None;
    while gathered.messages.len() < limits.size {
        let wait = match deadline {
            None => MAX_WAIT_SECONDS,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                i32::try_from(left.as_secs())
                    .unwrap_or(MAX_WAIT_SECONDS)
                    .min(MAX_WAIT_SECONDS)
            }
        };
        let wanted = (limits.size - gathered.messages.len()).min(MAX_MESSAGES_PER_RECEIVE);
        let received = receiver
            .receive(i32::try_from(wanted).unwrap_or(10), wait, stop)
            .await;
        let messages = match received {
            Ok(messages) => messages,
            Err(e) => {
                gathered.error = Some(e);
                break;
            }
        };
        let first_ones = deadline.is_none();
        if first_ones && messages.is_empty() {
            break;
        }
        let got_some = !messages.is_empty();
        for message in messages {
            add(&mut gathered.messages, message);
        }
        if *stop.borrow() {
            break;
        }
        if first_ones {
            if limits.window.is_zero() {
                break;
            }
            deadline = Some(Instant::now() + limits.window);
        } else if !got_some && wait == 0 {
            let left = deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or_default();
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => break,
                () = tokio::time::sleep(left.min(SHORT_POLL_PAUSE)) => {}
            }
        }
    }
    gathered
}

/// Adds a message to the batch; one received again (its visibility timeout ended while the
/// batch was gathered) replaces its older copy, whose receipt handle is no longer valid.
fn add(batch: &mut Vec<Message>, message: Message) {
    match batch
        .iter_mut()
        .find(|m| m.message_id.is_some() && m.message_id == message.message_id)
    {
        Some(older) => *older = message,
        None => batch.push(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A queue whose messages become available at given times (from the test's start).
    struct Scripted {
        start: Instant,
        pending: Mutex<Vec<(Duration, String)>>,
        calls: Mutex<Vec<(i32, i32)>>,
    }

    impl Scripted {
        fn new(at: &[(u64, &str)]) -> Self {
            Self {
                start: Instant::now(),
                pending: Mutex::new(
                    at.iter()
                        .map(|(ms, id)| (Duration::from_millis(*ms), (*id).to_owned()))
                        .collect(),
                ),
                calls: Mutex::new(Vec::new()),
            }
        }

        fn take(&self, max: i32) -> Vec<Message> {
            let now = self.start.elapsed();
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            while out.len() < max as usize
                && let Some(i) = pending.iter().position(|(at, _)| *at <= now)
            {
                let (_, id) = pending.remove(i);
                out.push(Message::builder().message_id(id).build());
            }
            out
        }

        fn next_at(&self) -> Option<Duration> {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.iter().map(|(at, _)| *at).min()
        }
    }

    /// Polls in one-second slices, as the SQS receiver does (see `poller`).
    impl Receive for Scripted {
        async fn receive(
            &self,
            max: i32,
            wait_seconds: i32,
            stop: &watch::Receiver<bool>,
        ) -> anyhow::Result<Vec<Message>> {
            self.calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((max, wait_seconds));
            let give_up = Instant::now() + Duration::from_secs(wait_seconds as u64);
            loop {
                let poll_end = give_up.min(Instant::now() + Duration::from_secs(1));
                loop {
                    let got = self.take(max);
                    if !got.is_empty() {
                        return Ok(got);
                    }
                    match self.next_at().map(|at| self.start + at) {
                        Some(at) if at <= poll_end => tokio::time::sleep_until(at).await,
                        _ => {
                            tokio::time::sleep_until(poll_end).await;
                            break;
                        }
                    }
                }
                if poll_end >= give_up || *stop.borrow() {
                    return Ok(self.take(max));
                }
            }
        }
    }

    fn ids(gathered: &Gathered) -> Vec<&str> {
        gathered
            .messages
            .iter()
            .filter_map(|m| m.message_id())
            .collect()
    }

    fn limits(size: usize, window_ms: u64) -> BatchLimits {
        BatchLimits {
            size,
            window: Duration::from_millis(window_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_window_one_receive_is_the_batch() {
        let queue = Scripted::new(&[(0, "a"), (0, "b"), (500, "c")]);
        let (_tx, mut stop) = watch::channel(false);
        let gathered = gather(&queue, limits(10, 0), &mut stop).await;
        assert_eq!(ids(&gathered), ["a", "b"]);
        assert_eq!(
            *queue.calls.lock().unwrap_or_else(|e| e.into_inner()),
            [(10, 20)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_starts_at_the_first_message_and_ends_the_batch() {
        let queue = Scripted::new(&[(3_000, "a"), (3_400, "b"), (4_200, "late")]);
        let (_tx, mut stop) = watch::channel(false);
        let started = Instant::now();
        let gathered = gather(&queue, limits(10, 1_000), &mut stop).await;
        assert_eq!(ids(&gathered), ["a", "b"]);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(4_000) && took < Duration::from_millis(4_100),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_is_delivered_before_the_window_ends() {
        let ids_at: Vec<(u64, String)> = (0..25).map(|i| (0, format!("m{i:02}"))).collect();
        let at: Vec<(u64, &str)> = ids_at.iter().map(|(t, s)| (*t, s.as_str())).collect();
        let queue = Scripted::new(&at);
        let (_tx, mut stop) = watch::channel(false);
        let started = Instant::now();
        let gathered = gather(&queue, limits(15, 5_000), &mut stop).await;
        assert_eq!(gathered.messages.len(), 15);
        assert!(started.elapsed() < Duration::from_millis(10));
        let calls = queue
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        assert_eq!(
            calls.iter().map(|(max, _)| *max).collect::<Vec<_>>(),
            [10, 5]
        );
    }

    /// Stops 300 ms into a long poll of an empty queue.
    async fn gather_stopped_at_300_ms(queue: &Scripted) -> (Gathered, Duration) {
        let (tx, mut stop) = watch::channel(false);
        let started = Instant::now();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = tx.send(true);
        });
        let gathered = gather(queue, limits(10, 0), &mut stop).await;
        let _ = stopper.await;
        (gathered, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_long_poll_with_the_poll_in_flight() {
        let (gathered, took) = gather_stopped_at_300_ms(&Scripted::new(&[])).await;
        assert!(gathered.messages.is_empty());
        assert!(took <= Duration::from_secs(1), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_poll_in_flight_receives_after_a_stop_is_kept() {
        let queue = Scripted::new(&[(600, "late"), (1_500, "later")]);
        let (gathered, _) = gather_stopped_at_300_ms(&queue).await;
        assert_eq!(ids(&gathered), ["late"]);
    }

    #[test]
    fn a_message_received_twice_keeps_its_newest_receipt_handle() {
        let mut batch = vec![
            Message::builder()
                .message_id("a")
                .receipt_handle("1")
                .build(),
        ];
        add(
            &mut batch,
            Message::builder()
                .message_id("a")
                .receipt_handle("2")
                .build(),
        );
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].receipt_handle(), Some("2"));
    }
}
