//! The API read back, and the card-data scan over everything.

use super::Stack;
use super::check::Report;
use super::observe::{Item, Observed, attr_n, attr_s, files_under, item_text};
use super::produce::Produced;
use crate::support::api::Error;
use payrail_shared::domain::PaymentStatus;
use payrail_shared::store::PaymentItem;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Reads a sample back through the API as the admin (every payment that did not succeed, every
/// 25th of the rest, and the accounts of 20 of them): what it answers agrees with the table.
/// Returns the response bodies, for the scan.
pub(super) async fn read_back(
    stack: &Stack,
    produced: &Produced,
    seen: &Observed,
    payments: &HashMap<String, (PaymentItem, &Item)>,
    report: &mut Report,
) -> Result<Vec<String>, Error> {
    let mut bodies = Vec::new();
    let mut accounts = Vec::new();
    for (i, id) in produced.ids().enumerate() {
        let Some((item, _)) = payments.get(id) else {
            continue;
        };
        let p = &item.payment;
        if p.status == PaymentStatus::Succeeded && i % 25 != 0 {
            continue;
        }
        let reply = stack.api.get(&format!("/payments/{id}")).await?;
        bodies.push(reply.body.to_string());
        let status = serde_json::to_value(p.status)?;
        if reply.status != 200 || reply.body["status"] != status {
            report.violation(format!(
                "GET /payments/{id}: {} {}, the table says {status}",
                reply.status, reply.body["status"]
            ));
        }
        if accounts.len() < 20 && !accounts.contains(&p.account_id.get()) {
            accounts.push(p.account_id.get());
        }
    }
    for id in &accounts {
        let reply = stack.api.get(&format!("/accounts/{id}")).await?;
        bodies.push(reply.body.to_string());
        let stored = seen
            .accounts
            .iter()
            .find(|a| attr_n(a, "account_id") == i64::try_from(*id).ok())
            .and_then(|a| attr_n(a, "last_payment_date"));
        if reply.status != 200 || reply.body["last_payment_date"].as_i64() != stored {
            report.violation(format!(
                "GET /accounts/{id}: {} {}, the table says {stored:?}",
                reply.status, reply.body["last_payment_date"]
            ));
        }
    }
    report.summary.push(format!(
        "read back through the API: {} payments, {} accounts",
        bodies.len() - accounts.len(),
        accounts.len()
    ));
    Ok(bodies)
}

/// Card numbers, wallet tokens and CVCs: in no response, table item, queue message (but the
/// upstream messages deliberately sent in clear), simulator record or log file.
pub(super) fn scan_for_card_data(
    stack: &Stack,
    produced: &Produced,
    seen: &Observed,
    read_back: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    let secrets = &produced.secrets;
    let clear: HashSet<&str> = produced
        .sent
        .iter()
        .filter(|s| s.clear)
        .filter_map(|s| s.id.as_deref())
        .collect();
    let mut leaks = Vec::new();
    let mut scanned: BTreeMap<&str, usize> = BTreeMap::new();
    let mut excluded = 0;
    for (i, text) in produced.responses.iter().chain(read_back).enumerate() {
        leaks.extend(secrets.scan(&format!("API response #{i}"), text));
    }
    scanned.insert("API responses", produced.responses.len() + read_back.len());
    for (table, items) in [
        ("TransactionsTable", &seen.items),
        ("AccountsTable", &seen.accounts),
    ] {
        for item in items {
            let text = item_text(item);
            leaks.extend(secrets.scan(&format!("{table} item {:?}", attr_s(item, "pk")), &text));
        }
    }
    scanned.insert("table items", seen.items.len() + seen.accounts.len());
    // Only the upstream messages themselves are left out: what payrail wrote about those
    // payments (log queue entries, table items, logs) is scanned like the rest.
    let upstream_in_clear = |queue: &str, id: Option<&str>| {
        queue != "LogQueue" && id.is_some_and(|id| clear.contains(id))
    };
    for d in &seen.deliveries {
        if upstream_in_clear(&d.queue, d.payment_id.as_deref()) {
            excluded += 1;
            continue;
        }
        leaks.extend(secrets.scan(
            &format!(
                "{} message delivered (receive {})",
                d.queue, d.receive_count
            ),
            &d.body,
        ));
    }
    scanned.insert("queue deliveries", seen.deliveries.len() - excluded);
    let mut dead = 0;
    for (queue, bodies) in [
        ("OnlineQueue", &seen.online_dlq),
        ("OfflineQueue", &seen.offline_dlq),
        ("LogQueue", &seen.log_dlq),
    ] {
        for body in bodies {
            let id = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|b| b["payment_id"].as_str().map(str::to_owned));
            if upstream_in_clear(queue, id.as_deref()) {
                excluded += 1;
                continue;
            }
            dead += 1;
            leaks.extend(secrets.scan(&format!("{queue}'s dead-letter queue"), body));
        }
    }
    scanned.insert("DLQ messages", dead);
    leaks.extend(secrets.scan("simulator /logs", &seen.raw_logs));
    leaks.extend(secrets.scan("simulator /charges", &seen.raw_charges));
    let mut files = Vec::new();
    files_under(&stack.log_dir, &mut files)?;
    let mut bytes = 0;
    for file in files.iter().filter(|f| **f != stack.record) {
        let text = std::fs::read(file)?;
        bytes += text.len();
        leaks.extend(secrets.scan(&file.display().to_string(), &String::from_utf8_lossy(&text)));
    }
    scanned.insert(
        "log files",
        files.len() - usize::from(files.contains(&stack.record)),
    );
    for leak in leaks.iter().take(20) {
        report.violation(format!("card data: {leak}"));
    }
    if leaks.len() > 20 {
        report.violation(format!("card data: {} leaks in all", leaks.len()));
    }
    report.summary.push(format!(
        "card scan: {} numbers, {} CVCs, {} wallet tokens over {scanned:?} ({} MB of logs); \
         {excluded} deliveries of the {} upstream messages sent in clear left out",
        secrets.numbers.len(),
        secrets.cvcs.len(),
        secrets.tokens.len(),
        bytes / 1_000_000,
        clear.len()
    ));
    Ok(())
}
