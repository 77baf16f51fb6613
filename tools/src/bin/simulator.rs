//! `simulator`: the payment gateway and log service simulator (SPEC §5) on one port.
//!
//! ```text
//! simulator --port 9090 --latency-ms 50 --failure-rate 0.2 --decline-rate 0.05 \
//!           --failures server-error,throttle,timeout,reset --seed 1
//!   (also charged-timeout, charged-reset: charged, then the answer lost)
//! ```
//!
//! Gateway: `POST /payment`, `POST /refund`; log service: `POST /log`, `GET /logs`; upstream
//! stream: `POST|GET /start` into `--online-queue-url` / `--offline-queue-url` (SQS reached
//! through the standard AWS variables, e.g. `AWS_ENDPOINT_URL_SQS`); for tests:
//! `GET /charges`, `GET|PUT /behaviour`. Point `GATEWAY_URL` and `LOG_URL` at it.

use aws_config::BehaviorVersion;
use clap::Parser;
use payrail_tools::simulator::{Behaviour, FailureKind, Simulator, StreamTarget, router};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "simulator",
    version,
    about = "Payment gateway and log service simulator"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// Milliseconds before every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Up to this many more milliseconds, per request.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Share of gateway calls failing transiently (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// Kinds of transient failure, chosen evenly.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "server-error,throttle,timeout,reset"
    )]
    failures: Vec<FailureKind>,
    /// Share of payments declined (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    decline_rate: f64,
    /// How long a `timeout` failure hangs, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    hang_ms: u64,
    /// Share of log-service calls answered 503 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    log_failure_rate: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Queue of the online payments `/start` emits.
    #[arg(long, env = "ONLINE_QUEUE_URL")]
    online_queue_url: Option<String>,
    /// Queue of the offline payments `/start` emits.
    #[arg(long, env = "OFFLINE_QUEUE_URL")]
    offline_queue_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let behaviour = Behaviour {
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        failure_rate: args.failure_rate,
        failures: args.failures,
        decline_rate: args.decline_rate,
        hang_ms: args.hang_ms,
        log_failure_rate: args.log_failure_rate,
        seed: args.seed,
    };
    if let Err(message) = behaviour.check() {
        eprintln!("simulator: {message}");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "simulator: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    if let Ok(address) = listener.local_addr() {
        println!("gateway and log service simulator on http://{address} ({behaviour:?})");
    }
    let sqs = if args.online_queue_url.is_some() || args.offline_queue_url.is_some() {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Some(aws_sdk_sqs::Client::new(&config))
    } else {
        None
    };
    let target = StreamTarget {
        sqs,
        online_queue_url: args.online_queue_url,
        offline_queue_url: args.offline_queue_url,
    };
    let app = router(Simulator::with_stream(behaviour, target));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulator: {e}");
            ExitCode::FAILURE
        }
    }
}
