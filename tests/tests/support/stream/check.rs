//! After a stream test has sent its payments and the stack has settled: the invariants of
//! SPEC §2–§5 over everything the stack holds (the table, the accounts, the queues, the
//! gateway's and the log service's records, every log file), and the card-data scan.
//! Violations are collected, not asserted one by one, so that one run shows them all.

use super::Stack;
use super::check_logs::check_logs;
use super::check_scan::{read_back, scan_for_card_data};
use super::observe::{Item, Observed, attr_n, attr_s, item_text, observe, payment_ids_of};
use super::produce::Produced;
use super::settle::is_final;
use crate::support::api::Error;
use payrail_shared::domain::{FailureKind, PaymentStatus, PaymentType, Timestamp};
use payrail_shared::store::PaymentItem;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the checks found.
#[derive(Debug, Default)]
pub struct Report {
    pub violations: Vec<String>,
    pub summary: Vec<String>,
}

impl Report {
    pub(super) fn violation(&mut self, text: impl Into<String>) {
        self.violations.push(text.into());
    }
}

/// Checks every invariant; the report lists what does not hold and a summary.
pub async fn verify(stack: &Stack, produced: &Produced) -> Result<Report, Error> {
    let seen = observe(stack).await?;
    let mut report = Report::default();
    for problem in &produced.problems {
        report.violation(format!("API: {problem}"));
    }
    let payments: HashMap<String, (PaymentItem, &Item)> = seen
        .items
        .iter()
        .filter(|i| attr_s(i, "sk") == Some("PAYMENT"))
        .filter(|i| attr_s(i, "pk").is_some_and(|pk| pk.starts_with("PAY#")))
        .filter_map(
            |i| match serde_dynamo::from_item::<_, PaymentItem>(i.clone()) {
                Ok(p) => Some((p.payment.id.to_string(), (p, i))),
                Err(e) => {
                    report.violation(format!(
                        "unreadable payment item {:?}: {e}",
                        attr_s(i, "pk")
                    ));
                    None
                }
            },
        )
        .collect();
    check_payments(produced, &seen, &payments, &mut report);
    check_table(produced, &seen, &payments, &mut report);
    check_logs(stack, produced, &seen, &mut report)?;
    let responses = read_back(stack, produced, &seen, &payments, &mut report).await?;
    scan_for_card_data(stack, produced, &seen, &responses, &mut report)?;
    Ok(report)
}

/// Each payment sent: stored once, in the state its path and the gateway's answer call for.
fn check_payments(
    produced: &Produced,
    seen: &Observed,
    payments: &HashMap<String, (PaymentItem, &Item)>,
    report: &mut Report,
) {
    let mut ids = HashSet::new();
    let online_dlq = payment_ids_of(&seen.online_dlq);
    let offline_dlq = payment_ids_of(&seen.offline_dlq);
    let mut delivered: HashMap<&str, usize> = HashMap::new();
    for d in &seen.deliveries {
        if let Some(id) = &d.payment_id
            && d.queue != "LogQueue"
        {
            *delivered.entry(id.as_str()).or_default() += 1;
        }
    }
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for sent in &produced.sent {
        let Some(id) = sent.id.as_deref() else {
            continue; // the API refused it: already a violation
        };
        if !ids.insert(id) {
            report.violation(format!("{id} was answered or sent for two payments"));
        }
        let Some((item, _)) = payments.get(id) else {
            report.violation(format!(
                "{id} ({:?}, {:?}) is not stored",
                sent.route, sent.payment_type
            ));
            continue;
        };
        let p = &item.payment;
        let status = p.status;
        let failure = p.failure.as_ref().map(|f| f.error_type);
        *by_outcome
            .entry(format!(
                "{:?} {:?}{} -> {status:?}",
                sent.route,
                sent.payment_type,
                if sent.poison { " (poison)" } else { "" }
            ))
            .or_default() += 1;
        let charge = seen.charges.get(id);
        let in_dlq = match sent.payment_type {
            PaymentType::Online => online_dlq.contains(id),
            PaymentType::Offline => offline_dlq.contains(id),
        };
        let expect = |ok: bool, what: &str, report: &mut Report| {
            if !ok {
                report.violation(format!(
                    "{id} ({:?} {:?}{}): {what}; status {status:?}, failure {failure:?}, charge {charge:?}, in DLQ {in_dlq}",
                    sent.route,
                    sent.payment_type,
                    if sent.poison { ", poison" } else { "" }
                ));
            }
        };
        if sent.poison {
            expect(
                status == PaymentStatus::Failed && failure == Some(FailureKind::Other),
                "a message that can never be processed ends failed (other)",
                report,
            );
            expect(in_dlq, "its message rests in the dead-letter queue", report);
            expect(charge.is_none(), "it never reaches the gateway", report);
            continue;
        }
        match sent.payment_type {
            PaymentType::Offline => {
                expect(
                    status == PaymentStatus::Succeeded,
                    "offline payments are stored succeeded",
                    report,
                );
                expect(
                    charge.is_none(),
                    "offline payments never reach the gateway",
                    report,
                );
            }
            PaymentType::Online => {
                let outcome = charge.map_or("none", |c| c.outcome.as_str());
                let consistent = match status {
                    PaymentStatus::Succeeded => outcome == "succeeded",
                    PaymentStatus::Declined => {
                        outcome == "declined" && failure == Some(FailureKind::Declined)
                    }
                    PaymentStatus::Failed => {
                        outcome != "succeeded"
                            && outcome != "declined"
                            && failure == Some(FailureKind::Network)
                            && in_dlq
                    }
                    _ => false,
                };
                expect(
                    consistent,
                    "succeeded iff the gateway approved, declined iff it declined, else failed (network) with its message in the DLQ",
                    report,
                );
            }
        }
        if let Some(c) = charge
            && c.duplicates > 0
            && delivered.get(id).copied().unwrap_or(0) < 2
        {
            report.violation(format!(
                "{id} reached the gateway {} times after its decision though its message was delivered once",
                c.duplicates
            ));
        }
    }
    report.summary.push(format!("outcomes: {by_outcome:?}"));
}

/// Over the whole table: no final payment keeps a sealed card, no payment appeared that the
/// test did not send, the aggregates equal a recount, each account's last_payment_date is its
/// latest completed payment written by payrail's payment paths (bulk loads do not set it).
fn check_table(
    produced: &Produced,
    seen: &Observed,
    payments: &HashMap<String, (PaymentItem, &Item)>,
    report: &mut Report,
) {
    let ours: HashSet<&str> = produced.ids().collect();
    let mut expected: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    let mut latest: HashMap<u64, i64> = HashMap::new();
    let mut bulk = 0;
    for (id, (item, raw)) in payments {
        let p = &item.payment;
        if is_final(p.status) && raw.contains_key("card_sealed") {
            report.violation(format!(
                "{id} is {:?} and still holds its sealed card",
                p.status
            ));
        }
        if p.updated_at.millis() >= produced.started && !ours.contains(id.as_str()) {
            report.violation(format!(
                "{id} ({:?}) was written during the test but not sent by it",
                p.status
            ));
        }
        if p.status.is_completed() {
            let day = p.created_at.day().to_string();
            let counts = expected
                .entry((p.card_type.as_str().to_owned(), day))
                .or_default();
            *counts.entry("n".to_owned()).or_default() += 1;
            *counts.entry(format!("c_{}", p.country)).or_default() += 1;
            // Version 0: written by a bulk loader (the generator, `record_payment` in test
            // fixtures), which keeps the aggregates but not the accounts (reported below).
            if item.version == 0 {
                bulk += 1;
                continue;
            }
            let at = latest.entry(p.account_id.get()).or_insert(i64::MIN);
            *at = (*at).max(p.created_at.millis());
        }
    }
    let mut actual: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for item in &seen.items {
        let Some(card_type) = attr_s(item, "pk").and_then(|pk| pk.strip_prefix("AGG#")) else {
            continue;
        };
        // A day's counter shards (and an unsharded counter) add up to the day's count.
        let day = attr_s(item, "sk")
            .and_then(payrail_shared::store::keys::aggregate_day)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let counts = actual.entry((card_type.to_owned(), day)).or_default();
        for k in item.keys().filter(|k| *k == "n" || k.starts_with("c_")) {
            if let Some(n) = attr_n(item, k).and_then(|n| u64::try_from(n).ok())
                && n > 0
            {
                *counts.entry(k.clone()).or_default() += n;
            }
        }
    }
    let keys: HashSet<&(String, String)> = expected.keys().chain(actual.keys()).collect();
    let mut wrong = 0;
    for key in keys {
        let (e, a) = (expected.get(key), actual.get(key));
        if e != a {
            wrong += 1;
            if wrong <= 10 {
                report.violation(format!("aggregate {key:?}: stored {a:?}, recount {e:?}"));
            }
        }
    }
    if wrong > 10 {
        report.violation(format!(
            "... {wrong} aggregate items differ from the recount in all"
        ));
    }
    report.summary.push(format!(
        "table: {} payment items, {} aggregate items ({} card-type days recounted)",
        payments.len(),
        actual.len(),
        expected.len()
    ));
    let mut touched = 0;
    for account in &seen.accounts {
        let Some(id) = attr_n(account, "account_id").and_then(|n| u64::try_from(n).ok()) else {
            report.violation(format!(
                "account item without an id: {}",
                item_text(account)
            ));
            continue;
        };
        let stored = attr_n(account, "last_payment_date");
        let recount = latest.get(&id).copied();
        touched += usize::from(recount.is_some());
        if stored != recount {
            report.violation(format!(
                "account {id}: last_payment_date {stored:?}, latest completed payment {recount:?}{}",
                recount.map(|t| format!(" ({})", Timestamp::from_millis(t).day())).unwrap_or_default()
            ));
        }
    }
    let orphans = latest
        .keys()
        .filter(|id| {
            !seen
                .accounts
                .iter()
                .any(|a| attr_n(a, "account_id") == i64::try_from(**id).ok())
        })
        .count();
    if orphans > 0 {
        report.violation(format!(
            "{orphans} accounts with completed payments are missing"
        ));
    }
    report.summary.push(format!(
        "accounts: {} in the table, {touched} with payments; {bulk} completed payments \
         bulk-loaded by other tests (no last_payment_date) left out of that recount",
        seen.accounts.len()
    ));
}
