//! The measured paths as a markdown table, and what a payment costs end to end.

use super::{Kind, PathRow, READ_PRICE, Tally, WRITE_PRICE};

/// Table or index as the template names it: the stack's prefix taken off a table name.
fn target_name(table: &str, index: Option<&str>, prefix: &str) -> String {
    match index {
        Some(index) => index.to_owned(),
        None => table.strip_prefix(prefix).unwrap_or(table).to_owned(),
    }
}

/// `TransactionsTable 4.00 W, by_day 2.00 W, …` per run: where the units went.
fn split(tally: &Tally, runs: u64, prefix: &str) -> String {
    let runs = runs.max(1) as f64;
    let mut parts: Vec<(Kind, String)> = tally
        .units
        .iter()
        .filter(|(_, units)| **units > 0.0)
        .map(|((target, kind), units)| {
            let letter = match kind {
                Kind::Write => "W",
                Kind::Read => "R",
            };
            let name = target_name(&target.table, target.index.as_deref(), prefix);
            (*kind, format!("{name} {:.2} {letter}", units / runs))
        })
        .collect();
    // Writes first, then reads; tables before their indexes (BTreeMap order: index None first).
    parts.sort_by_key(|(kind, _)| std::cmp::Reverse(*kind));
    parts
        .into_iter()
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(", ")
}

fn calls(tally: &Tally, runs: u64) -> String {
    let runs = runs.max(1) as f64;
    let mut text = tally
        .calls
        .iter()
        .map(|(operation, n)| format!("{operation} {:.2}", *n as f64 / runs))
        .collect::<Vec<_>>()
        .join(", ");
    if tally.failed > 0 {
        text.push_str(&format!(" (+{} failed, no units reported)", tally.failed));
    }
    text
}

/// Prints the table, then the DynamoDB cost of an online and of an offline payment.
pub fn print(rows: &[PathRow], prefix: &str) {
    println!(
        "| path | runs | WRU | RRU | $ per million (DynamoDB) | calls per run | units per run, by table / index |"
    );
    println!("|---|---:|---:|---:|---:|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            row.name,
            row.runs,
            row.per_run(Kind::Write),
            row.per_run(Kind::Read),
            row.dollars_per_million(),
            calls(&row.tally, row.runs),
            split(&row.tally, row.runs, prefix)
        );
    }
    let unreported: u64 = rows.iter().map(|r| r.tally.unreported).sum();
    if unreported > 0 {
        println!("WARNING: {unreported} calls answered without ConsumedCapacity");
    }
    let find = |start: &str| rows.iter().find(|r| r.name.starts_with(start));
    let per_payment = |parts: &[Option<&PathRow>]| -> Option<(f64, f64)> {
        parts.iter().try_fold((0.0, 0.0), |(w, r), part| {
            part.map(|p| (w + p.per_run(Kind::Write), r + p.per_run(Kind::Read)))
        })
    };
    let totals = [
        (
            "online payment through the API (create + validator → succeeded)",
            per_payment(&[
                find("POST /payments online"),
                find("validator: pending → succeeded"),
            ]),
        ),
        (
            "offline payment through the API",
            per_payment(&[find("POST /payments offline → ")]),
        ),
    ];
    for (name, total) in totals {
        if let Some((write, read)) = total {
            println!(
                "{name}: {write:.2} WRU + {read:.2} RRU = ${:.2} per million",
                write * WRITE_PRICE + read * READ_PRICE
            );
        }
    }
    println!(
        "(on-demand, us-east-1: ${WRITE_PRICE} per million WRU, ${READ_PRICE} per million RRU)"
    );
}
