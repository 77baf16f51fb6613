//! `local-stack`: the parts of the local stack that read template.yaml.
//!
//! ```text
//! local-stack create-tables --template template.yaml [--prefix P]
//! local-stack create-queues --template template.yaml [--prefix P]
//! local-stack env           --template template.yaml [--prefix P]
//! local-stack apigw         --template template.yaml --port 3000 --lambda-url http://127.0.0.1:9000
//! local-stack event-sources --template template.yaml --lambda-url http://127.0.0.1:9000 [--prefix P] [--record FILE]
//! local-stack schedules     --template template.yaml --lambda-url http://127.0.0.1:9000 [--every-seconds N]
//! ```
//!
//! DynamoDB and SQS are reached through the standard AWS variables (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SQS` or `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use clap::{Parser, Subcommand};
use payrail_tools::local::apigw::{ApiGwOptions, routes_from_template, serve_with};
use payrail_tools::local::env::{function_environment, render};
use payrail_tools::local::queues::{create_queues, queues_from_template};
use payrail_tools::local::schedule::{self, ScheduleContext, schedules_from_template};
use payrail_tools::local::sqs::{self, DeliveryRecord, PollerContext, event_sources_from_template};
use payrail_tools::local::tables::{create_tables, tables_from_template};
use payrail_tools::local::template::Template;

#[derive(Debug, Parser)]
#[command(version, about = "The local stack, read from template.yaml")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the template's DynamoDB tables (existing ones are left alone).
    CreateTables {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Prepended to each table's logical id to make its local name.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Creates the template's SQS queues, dead-letter queues first (existing ones are left
    /// alone), and prints `<LOGICAL_ID_IN_SNAKE_CASE>_URL=<url>` lines (e.g. ONLINE_QUEUE_URL).
    CreateQueues {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Prepended to each queue's logical id to make its local name.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Prints the functions' environment as KEY=VALUE lines.
    Env {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Prepended to table logical ids (as for create-tables).
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Serves the template's HTTP API routes in front of `cargo lambda watch`.
    Apigw {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Base URL of the Lambda invoke API (`cargo lambda watch`).
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        lambda_url: String,
        /// Seconds one invocation may take (API Gateway: 30).
        #[arg(long, default_value_t = 30)]
        invoke_timeout: u64,
    },
    /// Polls the template's SQS event sources and invokes their functions through
    /// `cargo lambda watch` (batches, windows and partial batch failures as Lambda does).
    EventSources {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Base URL of the Lambda invoke API (`cargo lambda watch`).
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        lambda_url: String,
        /// Prepended to queue logical ids (as for create-queues).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Pollers per event source, so that batches run in parallel.
        #[arg(long, env = "SQS_POLLERS", default_value_t = 2)]
        pollers: usize,
        /// Seconds one invocation may take before its batch counts as failed (a cold instance
        /// of `cargo lambda watch` compiles the function first).
        #[arg(long, default_value_t = 300)]
        invoke_timeout: u64,
        /// Overrides every source's BatchSize and batching window (1: one message per
        /// invocation, the benchmark's baseline); the template's values otherwise.
        #[arg(long)]
        batch_size: Option<usize>,
        /// Appends every delivered message (queue, id, receive count, body) to this file as a
        /// JSON line, for tests that inspect the queues' traffic. Bodies are written in clear.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Invokes the functions of the template's `Type: Schedule` events at their rate through
    /// `cargo lambda watch`, with EventBridge's scheduled event.
    Schedules {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Base URL of the Lambda invoke API (`cargo lambda watch`).
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        lambda_url: String,
        /// Fires every schedule this often instead of at its rate (tests).
        #[arg(long, env = "PAYRAIL_SCHEDULE_SECONDS")]
        every_seconds: Option<u64>,
        /// Seconds one invocation may take (a cold instance compiles the function first).
        #[arg(long, default_value_t = 300)]
        invoke_timeout: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match Cli::parse().command {
        Command::CreateTables { template, prefix } => {
            let template = Template::load(&template)?;
            let tables = tables_from_template(&template)?;
            let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            for outcome in create_tables(&client, &tables, &prefix).await? {
                let what = if outcome.created {
                    "created"
                } else {
                    "exists "
                };
                println!("{what} {}", outcome.table_name);
                for index in outcome.added_indexes {
                    println!("        {}: index {index} added", outcome.table_name);
                }
                for drift in outcome.drift {
                    eprintln!(
                        "warning: {} differs from template.yaml: {drift} (it was left alone; \
                         delete it to recreate it)",
                        outcome.table_name
                    );
                }
            }
        }
        Command::CreateQueues { template, prefix } => {
            let template = Template::load(&template)?;
            let queues = queues_from_template(&template)?;
            let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
            let client = aws_sdk_sqs::Client::new(&config);
            for outcome in create_queues(&client, &queues, &prefix).await? {
                let what = if outcome.created {
                    "created"
                } else {
                    "exists "
                };
                eprintln!("{what} {} {}", outcome.queue_name, outcome.url);
                println!(
                    "{}_URL={}",
                    screaming_snake(&outcome.logical_id),
                    outcome.url
                );
            }
        }
        Command::EventSources {
            template,
            lambda_url,
            prefix,
            pollers,
            invoke_timeout,
            batch_size,
            record,
        } => {
            let template = Template::load(&template)?;
            let mut sources = event_sources_from_template(&template)?;
            if let Some(size) = batch_size {
                for source in &mut sources {
                    source.batch_size = size.clamp(1, 10);
                    source.window = Duration::ZERO;
                }
            }
            for source in &sources {
                println!("{}", source.describe());
            }
            if sources.is_empty() {
                println!("no SQS event source in the template");
            }
            // No SDK retries: a receive retried after a lost answer would hide the first
            // attempt's messages until their visibility timeout, silently. The pollers log
            // each failure and retry themselves.
            let config = aws_config::defaults(BehaviorVersion::latest())
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load()
                .await;
            let context = PollerContext {
                sqs: aws_sdk_sqs::Client::new(&config),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(invoke_timeout))
                    .build()?,
                lambda_url: lambda_url.trim_end_matches('/').to_owned(),
                prefix,
                record: match &record {
                    Some(path) => Some(std::sync::Arc::new(
                        DeliveryRecord::open(path)
                            .with_context(|| format!("cannot open {}", path.display()))?,
                    )),
                    None => None,
                },
            };
            if let Some(path) = &record {
                println!("recording every delivered message in {}", path.display());
            }
            println!("SQS event sources -> {lambda_url} ({pollers} pollers each)");
            sqs::run(context, sources, pollers, shutdown_signal()).await;
        }
        Command::Schedules {
            template,
            lambda_url,
            every_seconds,
            invoke_timeout,
        } => {
            let template = Template::load(&template)?;
            let schedules = schedules_from_template(&template)?;
            let context = ScheduleContext {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(invoke_timeout))
                    .build()?,
                lambda_url: lambda_url.trim_end_matches('/').to_owned(),
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
                every: every_seconds.map(Duration::from_secs),
            };
            for s in &schedules {
                println!("{}", s.describe(context.period(s)));
            }
            if schedules.is_empty() {
                println!("no schedule in the template");
            }
            println!("schedules -> {lambda_url}");
            schedule::run(context, schedules, shutdown_signal()).await;
        }
        Command::Env { template, prefix } => {
            let template = Template::load(&template)?;
            let env = function_environment(&template, &prefix, &|k| std::env::var(k).ok())?;
            print!("{}", render(&env));
        }
        Command::Apigw {
            template,
            port,
            host,
            lambda_url,
            invoke_timeout,
        } => {
            let template = Template::load(&template)?;
            let routes = routes_from_template(&template)?;
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .with_context(|| format!("cannot listen on {host}:{port}"))?;
            let address = listener.local_addr()?;
            for route in routes.routes() {
                let auth = route
                    .target
                    .authorizer
                    .as_ref()
                    .map(|a| format!(" [authorizer {}]", a.name))
                    .unwrap_or_default();
                println!(
                    "route {:<32} -> {} ({}){auth}",
                    route.route_key(),
                    route.target.binary,
                    route.target.function
                );
            }
            println!("API Gateway (HTTP API, payload 2.0) on http://{address} -> {lambda_url}");
            let mut options = ApiGwOptions::new(&lambda_url);
            options.invoke_timeout = Duration::from_secs(invoke_timeout);
            serve_with(listener, routes, options, shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// `OnlineDeadLetterQueue` → `ONLINE_DEAD_LETTER_QUEUE`.
fn screaming_snake(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 8);
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
