//! `local-stack`: the parts of the local stack that read template.yaml.
//!
//! ```text
//! local-stack create-tables --template template.yaml [--prefix P]
//! local-stack env           --template template.yaml [--prefix P]
//! local-stack apigw         --template template.yaml --port 3000 --lambda-url http://127.0.0.1:9000
//! ```
//!
//! DynamoDB is reached through the standard AWS variables (`AWS_ENDPOINT_URL_DYNAMODB` or
//! `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use clap::{Parser, Subcommand};
use payrail_tools::local::apigw::{ApiGwOptions, routes_from_template, serve_with};
use payrail_tools::local::env::{function_environment, render};
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
                for drift in outcome.drift {
                    eprintln!(
                        "warning: {} differs from template.yaml: {drift} (it was left alone; \
                         delete it to recreate it)",
                        outcome.table_name
                    );
                }
            }
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
