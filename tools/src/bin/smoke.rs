//! `smoke`: a few real requests against a deployed (or the local) payrail API, one line per
//! passed check with its latency; stops at the first failure (docs/deployment.md, "The smoke
//! test").
//!
//! ```text
//! smoke --base-url URL --username U --password P --account-id N
//!       [--admin-username A --admin-password P2] [--online-timeout SECONDS]
//! ```
//!
//! Every option can come from the environment instead (`PAYRAIL_SMOKE_*`, see `--help`);
//! passwords should, so that they are not in the process list. Passwords are never printed.
//! Exit status: 0 every check passed, 1 a check failed, 2 bad arguments.

use clap::Parser;
use payrail_tools::smoke::{Credentials, Password, SmokeConfig, run};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "smoke",
    version,
    about = "Checks a payrail API with a few real requests"
)]
struct Args {
    /// The API's base URL (a stack's `ApiUrl` output, or the local stack's).
    #[arg(long, env = "PAYRAIL_SMOKE_BASE_URL")]
    base_url: String,
    /// A merchant user: creates the smoke payments.
    #[arg(long, env = "PAYRAIL_SMOKE_USERNAME")]
    username: String,
    #[arg(long, env = "PAYRAIL_SMOKE_PASSWORD", hide_env_values = true)]
    password: String,
    /// An admin user: reads the reports (skipped without it, or when empty).
    #[arg(
        long,
        env = "PAYRAIL_SMOKE_ADMIN_USERNAME",
        requires = "admin_password"
    )]
    admin_username: Option<String>,
    #[arg(long, env = "PAYRAIL_SMOKE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// The stage's dedicated smoke account: every smoke payment is charged to it.
    #[arg(long, env = "PAYRAIL_SMOKE_ACCOUNT_ID", value_parser = clap::value_parser!(u64).range(1..))]
    account_id: u64,
    /// How long the online payment may stay pending, in seconds.
    #[arg(long, default_value_t = 60)]
    online_timeout: u64,
    /// How long one request may take, in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("admin_username", &self.admin_username)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // An unset secret reaches a CI step as an empty variable: empty means not given.
    let given = |value: Option<String>| value.filter(|v| !v.is_empty());
    let admin = match (given(args.admin_username), given(args.admin_password)) {
        (Some(username), Some(password)) => Some(Credentials {
            username,
            password: Password::new(password),
        }),
        (None, None) => None,
        _ => {
            eprintln!("smoke: --admin-username and --admin-password go together");
            return ExitCode::from(2);
        }
    };
    let config = SmokeConfig {
        base_url: args.base_url,
        merchant: Credentials {
            username: args.username,
            password: Password::new(args.password),
        },
        admin,
        account_id: args.account_id,
        online_timeout: Duration::from_secs(args.online_timeout),
        request_timeout: Duration::from_secs(args.request_timeout),
    };
    println!(
        "smoke: {} as {} (account {})",
        config.base_url, config.merchant.username, config.account_id
    );
    let started = Instant::now();
    match run(&config, &mut |line| println!("{line}")).await {
        Ok(()) => {
            println!("smoke: every check passed in {:.1?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(err) => {
            println!("FAIL {err}");
            eprintln!(
                "smoke: stopped at the first failure, after {:.1?}",
                started.elapsed()
            );
            ExitCode::FAILURE
        }
    }
}
