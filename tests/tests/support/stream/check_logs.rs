//! Every error reached the log service with its type.

use super::Stack;
use super::check::Report;
use super::observe::{Observed, deliveries, logged_errors, payment_ids_of};
use super::produce::{Produced, Route};
use crate::support::api::Error;
use payrail_shared::domain::PaymentType;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Every error reached the log service with its type: a decline as `other`, each transient
/// gateway failure as `network`, and every error the functions logged as the same entry.
pub(super) fn check_logs(
    stack: &Stack,
    produced: &Produced,
    seen: &Observed,
    report: &mut Report,
) -> Result<(), Error> {
    let ours: HashSet<&str> = produced.ids().collect();
    let mut received: HashMap<(&str, &str), usize> = HashMap::new();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &seen.logs {
        if ours.contains(line.payment_id.as_str()) {
            *received
                .entry((line.payment_id.as_str(), line.error_type.as_str()))
                .or_default() += 1;
            *by_type.entry(line.error_type.as_str()).or_default() += 1;
        }
    }
    let count = |id: &str, kind: &str| received.get(&(id, kind)).copied().unwrap_or(0);
    let (mut transient, mut network, mut exact) = (0u32, 0usize, 0usize);
    for sent in &produced.sent {
        let Some(id) = sent.id.as_deref() else {
            continue;
        };
        if let Some(charge) = seen.charges.get(id) {
            let t = charge.transient_failures();
            let n = count(id, "network");
            transient += t;
            network += n;
            exact += usize::from(n == usize::try_from(t).unwrap_or(0));
            if n < usize::try_from(t).unwrap_or(0) {
                report.violation(format!(
                    "{id}: {t} transient gateway failures, {n} network log entries"
                ));
            }
            if charge.outcome == "declined" && count(id, "other") == 0 {
                report.violation(format!("{id}: declined, but no `other` log entry"));
            }
        }
        if sent.poison && count(id, "other") == 0 {
            report.violation(format!("{id}: never processable, but no `other` log entry"));
        }
        if !sent.poison
            && sent.payment_type == PaymentType::Offline
            && count(id, "network") + count(id, "other") > 0
        {
            report.violation(format!(
                "{id}: an offline payment with gateway or validation errors logged"
            ));
        }
    }
    let lambda_log = std::fs::read(stack.log_dir.join("lambda.log"))?;
    let (logged, unqueued) = logged_errors(&String::from_utf8_lossy(&lambda_log));
    let mut logged_counts: HashMap<(&str, &str), usize> = HashMap::new();
    for (id, kind) in &logged {
        if ours.contains(id.as_str()) {
            *logged_counts
                .entry((id.as_str(), kind.as_str()))
                .or_default() += 1;
        }
    }
    for ((id, kind), n) in &logged_counts {
        let got = received.get(&(*id, *kind)).copied().unwrap_or(0);
        if got < *n {
            report.violation(format!("{id}: {n} `{kind}` errors logged by the functions, {got} received by the log service"));
        }
    }
    for id in unqueued.iter().filter(|id| ours.contains(id.as_str())) {
        report.violation(format!(
            "{id}: an error report could not be queued for the log service"
        ));
    }
    let dead_logs = payment_ids_of(&seen.log_dlq);
    for id in dead_logs.iter().filter(|id| ours.contains(id.as_str())) {
        report.violation(format!(
            "{id}: a log entry rests in the log dead-letter queue"
        ));
    }
    report.summary.push(format!(
        "gateway: {transient} transient failures, {network} network log entries ({exact} payments exact); \
         log entries by type {by_type:?}; functions' error events for these payments: {}",
        logged_counts.values().sum::<usize>()
    ));
    Ok(())
}

/// Deliveries and redeliveries of this test's messages, from the record.
pub fn delivery_summary(stack: &Stack, produced: &Produced) -> Result<String, Error> {
    let ours: HashSet<&str> = produced.ids().collect();
    let mut per_queue: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for d in deliveries(&stack.record)? {
        if d.payment_id.as_deref().is_some_and(|id| ours.contains(id)) {
            let entry = per_queue.entry(d.queue).or_default();
            entry.0 += 1;
            entry.1 += usize::from(d.receive_count > 1);
        }
    }
    let twice = produced.sent.iter().filter(|s| s.copies > 1).count();
    let api = produced
        .sent
        .iter()
        .filter(|s| s.route == Route::Api)
        .count();
    Ok(format!(
        "deliveries (all, redeliveries) per queue: {per_queue:?}; {twice} queue messages sent twice; {api} API payments"
    ))
}
