//! `bench capacity`: the DynamoDB capacity each payment path consumes, measured. payrail's own
//! handlers, stores and validator run in process, wired as the Lambda mains wire them, over a
//! DynamoDB client that carries the [`CapacityMeter`]; SQS is the stack's (its own queues, so
//! the stack's consumers leave them alone) and the gateway is the simulator, served in process.
//! Prices: on-demand, us-east-1, November 2026 (docs/performance.md).

pub mod api;
pub mod meter;
mod paths;
mod report;

pub use meter::{CapacityMeter, Kind, Tally, Target};
pub use paths::{Api, Wiring, create_payment};
pub use report::print;

use super::BenchResult;
use crate::simulator::{Behaviour, Simulator, router};
use payrail_shared::secrets::SecretValue;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Dollars per million write request units, on-demand.
pub const WRITE_PRICE: f64 = 0.625;
/// Dollars per million read request units, on-demand.
pub const READ_PRICE: f64 = 0.125;

/// What one path consumed, summed over its runs.
#[derive(Debug, Clone)]
pub struct PathRow {
    pub name: String,
    pub runs: u64,
    pub tally: Tally,
}

impl PathRow {
    /// Units of `kind` per run.
    pub fn per_run(&self, kind: Kind) -> f64 {
        self.tally.total(kind) / self.runs.max(1) as f64
    }

    /// Dollars of DynamoDB request units per million runs.
    pub fn dollars_per_million(&self) -> f64 {
        self.per_run(Kind::Write) * WRITE_PRICE + self.per_run(Kind::Read) * READ_PRICE
    }
}

#[derive(Debug, Clone)]
pub struct CapacityOptions {
    /// The local stack's table prefix (`gen8_` in `make bench`).
    pub prefix: String,
    /// Payments per path.
    pub count: usize,
    pub seed: u64,
    /// Share of online payments the simulated gateway declines.
    pub decline_rate: f64,
}

/// Runs every path against the stack the standard AWS variables point at.
pub async fn measure(options: &CapacityOptions) -> BenchResult<Vec<PathRow>> {
    let sdk = payrail_shared::config::aws().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = paths::BenchQueues::create(&sqs).await?;
    let behaviour = Behaviour {
        decline_rate: options.decline_rate,
        seed: options.seed,
        ..Behaviour::default()
    };
    behaviour.check()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_url = format!("http://{}", listener.local_addr()?);
    let gateway =
        tokio::spawn(async move { axum::serve(listener, router(Simulator::new(behaviour))).await });
    let meter = CapacityMeter::new();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let wiring = Wiring {
        client: meter.client(&sdk),
        sqs: sqs.clone(),
        transactions_table: format!("{}TransactionsTable", options.prefix),
        accounts_table: format!("{}AccountsTable", options.prefix),
        users_table: format!("{}UsersTable", options.prefix),
        online_queue_url: queues.online.url.clone(),
        log_queue_url: queues.log.url.clone(),
        gateway_url,
        card_secret: SecretValue::new(uuid::Uuid::new_v4().simple().to_string().repeat(2)),
    };
    let run = paths::Run {
        wiring: &wiring,
        meter: &meter,
        unmetered: aws_sdk_dynamodb::Client::new(&sdk),
        queues: &queues,
        count: options.count,
    };
    let result = run.all(&mut rng).await;
    gateway.abort();
    queues.delete(&sqs).await;
    result
}
