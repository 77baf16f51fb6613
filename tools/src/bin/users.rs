//! `users`: adds, disables, enables and lists the API's users in any stage's users table.
//!
//! ```text
//! users add     --config stage.yaml --username alice --role merchant --merchant "Alice's Shop"
//! users add     --config stage.yaml --username ops --role admin
//! users disable --config stage.yaml --username alice
//! users enable  --config stage.yaml --username alice
//! users list    --config stage.yaml
//! ```
//!
//! The config file is the generator's (endpoint, region, credentials), with `table` naming the
//! users table (the stack's `UsersTableName` output). `add` reads the password from standard
//! input (first line), or prompts for it without echo on a terminal; it is stored only as an
//! argon2id hash. Exit status: 0 done, 1 the operation failed, 2 bad arguments or config.

use clap::{Parser, Subcommand, ValueEnum};
use payrail_shared::auth::{Role, hash_password};
use payrail_shared::domain::{Clock, SystemClock};
use payrail_shared::users::{DynamoUsers, User, UserWriteError, Username};
use payrail_tools::generator::{Config, client, error_chain};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "users",
    version,
    about = "Manage the API's users in a stage's users table"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adds a user; the password comes from standard input.
    Add {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The merchant a merchant user acts for (required for merchants, refused for admins).
        #[arg(long)]
        merchant: Option<String>,
        /// Create the user disabled.
        #[arg(long)]
        disabled: bool,
        /// Succeed without change when the user exists (for seeding scripts).
        #[arg(long)]
        exists_ok: bool,
    },
    /// Disables a user: no new token; tokens already issued run out within their lifetime.
    Disable {
        #[command(flatten)]
        target: Target,
    },
    /// Enables a disabled user.
    Enable {
        #[command(flatten)]
        target: Target,
    },
    /// Lists every user (never their password hashes).
    List {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct Target {
    /// YAML file naming the endpoint, region, credentials and users table.
    #[arg(long, value_name = "FILE.yaml")]
    config: PathBuf,
    #[arg(long, value_parser = parse_username)]
    username: Username,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Merchant,
    Admin,
}

fn parse_username(raw: &str) -> Result<Username, String> {
    Username::parse(raw)
}

/// Shortest password `add` accepts.
const MIN_PASSWORD_CHARS: usize = 8;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("users: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

async fn users(config: &Path) -> Result<DynamoUsers, Failure> {
    let config = Config::load(config).map_err(|e| (2, e.to_string()))?;
    Ok(DynamoUsers::new(
        client(&config).await,
        config.table.clone(),
    ))
}

fn failed(err: &(dyn std::error::Error + 'static)) -> Failure {
    (1, error_chain(err))
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Add {
            target,
            role,
            merchant,
            disabled,
            exists_ok,
        } => {
            let role = match (role, merchant.as_deref().map(str::trim)) {
                (RoleArg::Merchant, Some(m)) if !m.is_empty() => Role::Merchant,
                (RoleArg::Merchant, _) => {
                    return Err((2, "a merchant user needs --merchant NAME".to_owned()));
                }
                (RoleArg::Admin, None) => Role::Admin,
                (RoleArg::Admin, Some(_)) => {
                    return Err((
                        2,
                        "an admin acts for no merchant: drop --merchant".to_owned(),
                    ));
                }
            };
            let password = read_password()?;
            let store = users(&target.config).await?;
            let user = User {
                username: target.username.clone(),
                password_hash: hash_password(&password).map_err(|e| failed(&e))?,
                role,
                merchant: merchant.map(|m| m.trim().to_owned()),
                enabled: !disabled,
                created_at: SystemClock.now(),
            };
            match store.add(&user).await {
                Ok(()) => println!("added {} ({})", user.username, describe(&user)),
                Err(UserWriteError::Exists(name)) if exists_ok => {
                    println!("exists {name} (left unchanged)");
                }
                Err(e) => return Err(failed(&e)),
            }
        }
        Command::Disable { target } => {
            let store = users(&target.config).await?;
            store
                .set_enabled(&target.username, false)
                .await
                .map_err(|e| failed(&e))?;
            println!("disabled {}", target.username);
        }
        Command::Enable { target } => {
            let store = users(&target.config).await?;
            store
                .set_enabled(&target.username, true)
                .await
                .map_err(|e| failed(&e))?;
            println!("enabled {}", target.username);
        }
        Command::List { config } => {
            let store = users(&config).await?;
            let all = store.list().await.map_err(|e| failed(&e))?;
            println!("{:<24} {:<9} {:<8} merchant", "username", "role", "enabled");
            for user in &all {
                println!(
                    "{:<24} {:<9} {:<8} {}",
                    user.username.as_str(),
                    role_name(user.role),
                    user.enabled,
                    user.merchant.as_deref().unwrap_or("-")
                );
            }
            println!("{} user(s)", all.len());
        }
    }
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Merchant => "merchant",
        Role::Admin => "admin",
    }
}

fn describe(user: &User) -> String {
    let mut text = role_name(user.role).to_owned();
    if let Some(m) = &user.merchant {
        text.push_str(&format!(" of {m:?}"));
    }
    if !user.enabled {
        text.push_str(", disabled");
    }
    text
}

/// The password: prompted twice without echo on a terminal, else the first line of stdin.
fn read_password() -> Result<String, Failure> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").map_err(|e| failed(&e))?;
        let again = rpassword::prompt_password("again: ").map_err(|e| failed(&e))?;
        if first != again {
            return Err((2, "the passwords differ".to_owned()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| failed(&e))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err((
            2,
            format!("the password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(password)
}
